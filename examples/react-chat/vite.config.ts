import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app on Vite's dev server and forwards socket.io and the demo token
// route to iogate (IOGATE_URL, default http://127.0.0.1:3000), so the browser sees one origin.
const iogate = process.env.IOGATE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  // Relative asset paths: the build works from any folder iogate serves it from.
  base: './',
  server: {
    proxy: {
      '/socket.io': { target: iogate, ws: true },
      '/demo': { target: iogate },
    },
  },
});
