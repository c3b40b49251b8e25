// What the web app does, from a page on another origin than the server's: JSON calls with a
// CORS preflight and no cookies, the project's event stream, the chat stream read by the AI SDK
// (bundled for the browser by esbuild at test time) and the terminal's WebSocket.
import { DefaultChatTransport, readUIMessageStream } from "ai";

const server = new URL(location.href).searchParams.get("api");
const project = `${server}/api/projects/local`;
const element = (id) => document.getElementById(id);
const state = { workspaceId: null, agentId: null, sessionId: null, terminal: null };

function showError(error) {
  const item = document.createElement("li");
  item.textContent = String(error?.message ?? error);
  element("errors").append(item);
}

function onClick(id, action) {
  element(id).addEventListener("click", () => action().catch(showError));
}

// Content-Type application/json makes every call a preflighted one, as the web app's are.
async function send(method, path, body) {
  const response = await fetch(`${project}${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${answer.error}`);
  return answer;
}

const events = new EventSource(`${project}/events`);
events.addEventListener("connected", () => {
  element("events-state").textContent = "connected";
});
events.addEventListener("workspace_updated", (event) => {
  const { workspaceId, status } = JSON.parse(event.data).data;
  const item = document.createElement("li");
  item.textContent = `${workspaceId}: ${status}`;
  element("workspace-events").append(item);
});

onClick("add-workspace", async () => {
  const workspace = await send("POST", "/workspaces", {
    path: element("workspace-path").value,
    sourceType: "local",
    provider: "local",
  });
  state.workspaceId = workspace.id;
  element("workspace-id").textContent = workspace.id;
});

// The web app's client ids: 16 characters.
function clientId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) =>
    byte.toString(16).padStart(2, "0"),
  ).join("");
}

onClick("send", async () => {
  state.agentId ??= (await send("POST", "/agents", { name: "Coder", agentType: "opencode" })).id;
  state.sessionId = clientId();
  const transport = new DefaultChatTransport({ api: `${project}/chat` });
  const stream = await transport.sendMessages({
    chatId: state.sessionId,
    messages: [
      { id: clientId(), role: "user", parts: [{ type: "text", text: element("prompt").value }] },
    ],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal: undefined,
    body: { workspaceId: state.workspaceId, agentId: state.agentId },
  });
  element("session-id").textContent = state.sessionId;
  for await (const message of readUIMessageStream({ stream })) {
    element("assistant").textContent = message.parts
      .filter((part) => part.type === "text")
      .map((part) => part.text)
      .join("");
  }
});

function terminalOpen() {
  const url = new URL(`${project}/sessions/${state.sessionId}/terminal/ws?rows=24&cols=80`);
  url.protocol = "ws:";
  const socket = new WebSocket(url);
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "output") element("terminal").textContent += frame.data;
    else showError(`terminal: ${frame.data}`);
  });
  socket.addEventListener("close", (event) => {
    if (event.code !== 1000) showError(`terminal closed: ${event.code}`);
  });
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve(socket));
    socket.addEventListener("error", () => reject(new Error("terminal: the WebSocket failed")));
  });
}

onClick("run", async () => {
  state.terminal ??= await terminalOpen();
  state.terminal.send(JSON.stringify({ type: "input", data: `${element("command").value}\r` }));
});

// A service of the working copy started through the API, then shown from its preview host in
// an iframe, as the web app's preview pane does.
onClick("preview-web", async () => {
  const services = `/sessions/${state.sessionId}/services`;
  await send("POST", `${services}/web/start`, {});
  for (let tries = 0; tries < 120; tries++) {
    const listed = await (await fetch(`${project}${services}`)).json();
    const web = listed.services.find((service) => service.id === "web");
    element("service-status").textContent = web.status;
    if (web.status === "running") break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const preview = new URL(server);
  preview.hostname = `${state.sessionId}-svc-web.localhost`;
  preview.pathname = "/README.md";
  element("preview").src = preview.href;
});
