// Runs the gateway's `scheduled` handler, as a Cron Trigger would, through a service binding's
// scheduled() (plain `workerd serve` has no cron of its own; the binding's scheduled() needs the
// `service_binding_extra_handlers` compatibility flag, as miniflare's own trigger does):
// POST /run?time=MS answers with the run's outcome ("ok", or "exception" when the handler threw).
export default {
  async fetch(request, env) {
    const time = Number(new URL(request.url).searchParams.get("time") ?? Date.now());
    const result = await env.GATEWAY.scheduled({ scheduledTime: new Date(time), cron: "* * * * *" });
    return Response.json({ outcome: result.outcome });
  },
};
