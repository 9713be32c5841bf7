// Reference relay on Socket.IO: every binary 'm' event a client emits goes to every member of its
// room, the sender included (io.to(room).emit encodes the packet once for all). WebSocket
// transport only, compression off, TCP_NODELAY on. Prints "listening on ws://127.0.0.1:PORT".
// Usage: node socketio-relay.js --port 0
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const server = http.createServer();
server.on('connection', (socket) => socket.setNoDelay(true));
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 1 << 20,
});

io.on('connection', (socket) => {
  const room = socket.handshake.query.room || 'bench';
  socket.join(room);
  socket.on('m', (data) => io.to(room).emit('m', data));
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ws://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
