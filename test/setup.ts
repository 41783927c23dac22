// vitest setup: nothing global yet beyond a stable timezone for rendered timestamps.
process.env.TZ = "UTC";
