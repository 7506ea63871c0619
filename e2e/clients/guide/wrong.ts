// A client that gets the events wrong: tsc, with the generated types, must refuse it (the test
// of the generated types compiles it and expects each error below).
import { io, Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from './generated/events.js';

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:3000/events');

// `message` is acknowledged with a string, not a number.
socket.emit('message', 'hello', (response: number) => console.log(response + 1));
// No such event.
socket.emit('mesage', 'hello');
