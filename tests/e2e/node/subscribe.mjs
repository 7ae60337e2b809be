// The graphql-transport-ws reference client (npm graphql-ws on Node) against the server.
// Usage: node subscribe.mjs WS_URL TOKEN
// Subscribes to trades(market: "BTC-USD") and myOrders (authenticated with TOKEN in
// connection_init), prints one JSON line per protocol step or event, and exits 0 once both
// subscriptions have delivered an event; 1 on any error; 2 after 30 s without both.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: {
    connected: () => print({ step: "connected" }),
    error: (error) => fail(error),
  },
});

function fail(error) {
  print({ error: String(error && (error.message || error.reason || error)) });
  process.exit(1);
}

const subscriptions = {
  trades: 'subscription { trades(market: "BTC-USD") { id market price quantity takerSide } }',
  myOrders: "subscription { myOrders { id market side status filledQuantity } }",
};
const received = new Set();
for (const [name, query] of Object.entries(subscriptions)) {
  client.subscribe(
    { query },
    {
      next: (result) => {
        print({ subscription: name, result });
        if (result.errors) fail(JSON.stringify(result.errors));
        received.add(name);
        if (received.size === Object.keys(subscriptions).length) {
          client.dispose();
          process.exit(0);
        }
      },
      error: fail,
      complete: () => fail(`${name} completed before delivering an event`),
    },
  );
}
setTimeout(() => {
  print({ error: `timed out; received: ${[...received].join(", ") || "nothing"}` });
  process.exit(2);
}, 30_000);
