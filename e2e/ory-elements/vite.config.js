// Builds the test app (src/main.jsx) into dist/, which test/page-server.js
// serves. The API's URL is not built in: the page server hands it to the
// page at run time (/config.js), so one build serves any Latchkey.
import { defineConfig } from 'vite'

export default defineConfig({
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 8192,
    rolldownOptions: {
      // The "use client" directives of React server components mean
      // nothing in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning)
      },
    },
  },
})
