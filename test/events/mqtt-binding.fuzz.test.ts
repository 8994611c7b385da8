import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateEvent } from "../../src/events/event.js";
import { MQTT_EVENT_TYPE, mqttMessageToEvent } from "../../src/events/mqtt-binding.js";

const brokerUrl = fc.oneof(
  fc.constantFrom("mqtt://127.0.0.1:1883", "mqtts://user:secret@broker:8883/", "ws://h/mqtt"),
  fc.string(),
);
const userProperties = fc.dictionary(
  fc.oneof(
    fc.string(),
    fc.constantFrom("id", "Type", "source", "specversion", "time", "room", "ROOM", "data_base64"),
  ),
  fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
  { maxKeys: 8 },
);

describe("fuzz: MQTT message → CloudEvent", () => {
  it("always yields a valid io.eventail.mqtt.message whose required attributes no property overrides", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        fc.option(
          fc.record({ contentType: fc.option(fc.string(), { nil: undefined }), userProperties }),
          {
            nil: undefined,
          },
        ),
        brokerUrl,
        (topic, payload, properties, url) => {
          const event = mqttMessageToEvent({ topic, payload, properties }, url);
          validateEvent(event);
          expect(event.attributes["type"]).toBe(MQTT_EVENT_TYPE);
          expect(event.attributes["specversion"]).toBe("1.0");
          expect(event.attributes["subject"]).toBe(topic);
          expect(String(event.attributes["source"]).endsWith(`/${topic}`)).toBe(true);
          expect(String(event.attributes["source"])).not.toContain("secret");
          if (payload.length > 0) expect(Buffer.compare(event.data!, payload)).toBe(0);
          else expect(event.data).toBeUndefined();
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
