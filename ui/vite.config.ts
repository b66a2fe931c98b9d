import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// The window loads the built files from inside the binary; the dev server is for `tauri dev`.
export default defineConfig({
  plugins: [vue()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK on Debian 12 and current Chromium both run ES2021.
    target: "es2021",
    chunkSizeWarningLimit: 2000,
  },
});
