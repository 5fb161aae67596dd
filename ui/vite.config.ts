import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The studio window loads ui/dist (tauri.conf.json: frontendDist "../ui/dist").
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: 'dist', emptyOutDir: true, target: 'safari15', chunkSizeWarningLimit: 1500 },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
