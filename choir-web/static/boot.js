// Starts the app; if the browser cannot, says so instead of leaving "Starting…" up.
import init from "./{{JS}}";

init({ module_or_path: "/assets/{{WASM}}" }).catch((error) => {
  const boot = document.getElementById("boot");
  if (boot) {
    boot.textContent = "ChoirOS could not start in this browser: " + error;
    boot.setAttribute("role", "alert");
  }
});
