import assert from "node:assert/strict";
import { createNotebookReporter } from "../lib/notebook.ts";

Deno.test("the notebook reporter shows one display and updates it in place with Keras' lines", async () => {
  const sent: { type: string; text: string; id: unknown }[] = [];
  const reporter = createNotebookReporter(
    (type, content) => {
      const data = content.data as Record<string, string>;
      const transient = content.transient as Record<string, unknown>;
      sent.push({ type, text: data["text/plain"], id: transient.display_id });
      return Promise.resolve();
    },
    { displayId: "p1", throttleMs: 0 },
  );
  reporter.epochBegin(0, 2);
  reporter.batchEnd({ current: 1, target: 2, elapsedSeconds: 1, values: { loss: 0.5 } });
  reporter.epochEnd("2/2 [==============================] - 2s 1s/step - loss: 0.5000");
  reporter.epochBegin(1, 2);
  reporter.epochEnd("2/2 [==============================] - 2s 1s/step - loss: 0.4000");
  await reporter.settled();
  assert.equal(sent[0].type, "display_data");
  assert.ok(sent.slice(1).every((m) => m.type === "update_display_data"));
  assert.ok(sent.every((m) => m.id === "p1"));
  assert.match(sent[1].text, /^Epoch 1\/2\n1\/2 \[/);
  assert.equal(
    sent.at(-1)!.text,
    [
      "Epoch 1/2",
      "2/2 [==============================] - 2s 1s/step - loss: 0.5000",
      "Epoch 2/2",
      "2/2 [==============================] - 2s 1s/step - loss: 0.4000",
    ].join("\n"),
  );
});
