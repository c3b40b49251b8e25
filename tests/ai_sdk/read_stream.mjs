// Reads a UI message stream (the SSE body of POST /chat or GET /chat/{id}/stream) from stdin
// with the AI SDK 6 the web app runs, exactly as its DefaultChatTransport does: every chunk is
// checked against the SDK's own schema (strict in this version: an unknown field fails), then
// the message is rebuilt with readUIMessageStream.
//
// Prints {"chunks": [...], "message": <UIMessage>}; exits 1 naming the first rejected chunk.
import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } from "ai";

const body = new Response(process.stdin).body;
const chunks = [];
const checked = parseJsonEventStream({ stream: body, schema: uiMessageChunkSchema }).pipeThrough(
  new TransformStream({
    transform(parsed, controller) {
      if (!parsed.success) {
        throw new Error(`chunk rejected by the AI SDK: ${parsed.error.message}\n${parsed.rawValue ? JSON.stringify(parsed.rawValue) : ""}`);
      }
      chunks.push(parsed.value);
      controller.enqueue(parsed.value);
    },
  }),
);

let message = null;
try {
  for await (const snapshot of readUIMessageStream({ stream: checked })) {
    message = snapshot;
  }
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify({ chunks, message }));
