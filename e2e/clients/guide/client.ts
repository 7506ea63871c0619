// The NestJS WebSockets guide's Node/TypeScript client, as the guide writes it. Two changes: the
// server's address and the token come from the environment (IOGATE_URL, TOKEN) instead of being
// written in, so that a test can point it at any iogate; and the socket is typed with the events
// iogate's gateways declare (`iogate codegen ts --out guide/generated`), so that tsc checks
// every event's name and data.
import { io, Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from './generated/events.js';

const SERVER_URL = process.env.IOGATE_URL ?? 'http://localhost:3000';
const TOKEN = process.env.TOKEN ?? 'your-jwt-token';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${SERVER_URL}/events`, {
  auth: {
    token: TOKEN,
  },
});

socket.on('connect', () => {
  console.log('Connected:', socket.id);

  // Send a message and wait for the acknowledgement.
  socket.emit('message', 'Hello from the client', (response: string) => {
    console.log('Message response:', response);
  });

  socket.emit('events', { test: 'data' }, (response: unknown) => {
    console.log('Events response:', JSON.stringify(response));
  });
});

socket.on('notification', (data: unknown) => {
  console.log('Notification:', JSON.stringify(data));
});

socket.on('connect_error', (error: Error) => {
  console.error('Connection error:', error.message);
});

socket.on('disconnect', (reason: string) => {
  console.log('Disconnected:', reason);
});
