// Posts a CloudEvent to $K_SINK every N seconds (argv[2], default 5), with the extensions of
// $K_CE_OVERRIDES, the way Knative's container sources do. Stops on SIGTERM.
const sink = process.env.K_SINK;
const overrides = JSON.parse(process.env.K_CE_OVERRIDES ?? "{}").extensions ?? {};
const everyMs = Number(process.argv[2] ?? "5") * 1000;
let n = 0;

async function beat() {
  n += 1;
  const headers = {
    "ce-specversion": "1.0",
    "ce-id": `${process.pid}-${n}`,
    "ce-source": "/examples/container/heartbeat",
    "ce-type": "dev.example.heartbeat",
    "content-type": "application/json",
  };
  for (const [name, value] of Object.entries(overrides)) headers[`ce-${name}`] = value;
  const body = JSON.stringify({ n, message: process.env.MESSAGE ?? "" });
  const response = await fetch(sink, { method: "POST", headers, body });
  console.log(`heartbeat ${n}: ${response.status}`);
}

const timer = setInterval(() => beat().catch((error) => console.error(error.message)), everyMs);
process.on("SIGTERM", () => {
  clearInterval(timer);
  process.exit(0);
});
