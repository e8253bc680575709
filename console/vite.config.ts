import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build is committed (dist/) and embedded in the gateway binary (console.go). Same input, same
// bytes: content-hashed file names, no timestamps, no source maps.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800, // one bundle (~510 kB, 145 kB gzipped) with the API descriptors; served once, cached as immutable
  },
  server: {
    // npm run dev: the API of a gateway on the default address, same-origin through the dev server.
    proxy: { "^/(syncgate\\.v1|grpc\\.)": "http://127.0.0.1:8080" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
