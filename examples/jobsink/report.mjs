// The JobSink example's job: reads the event from the file $K_EVENT_PATH names (it is on stdin
// too) and prints one line, which Eventail's log shows with the job's name.
import { readFileSync } from "node:fs";

const event = JSON.parse(readFileSync(process.env.K_EVENT_PATH, "utf8"));
console.log(`report for ${event.data?.month ?? "?"} (event ${event.id})`);
