// Reference relay on Node `ws`: every binary message a client sends goes to every member of its
// room, the sender included (as Scrawl acknowledges by broadcast). Compression off, TCP_NODELAY
// on. Prints "listening on ws://127.0.0.1:PORT" once ready. Usage: node ws-relay.js --port 0
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
server.on('connection', (socket) => socket.setNoDelay(true));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1 << 20 });
const rooms = new Map();

wss.on('connection', (ws, req) => {
  const name = new URL(req.url, 'http://localhost').searchParams.get('room') || 'bench';
  let room = rooms.get(name);
  if (!room) rooms.set(name, (room = new Set()));
  room.add(ws);
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    for (const member of room) {
      if (member.readyState === 1) member.send(data, { binary: true, compress: false });
    }
  });
  ws.on('close', () => room.delete(ws));
  ws.on('error', () => room.delete(ws));
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ws://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
