// Runs a Python script under MicroPython's WebAssembly port with firmware/postureclip on
// its path. Usage: node run.mjs <firmware dir> <script.py> <input file> ; prints stdout.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [fwDir, script, input] = process.argv.slice(2);
const chunks = [];
// Without line buffering the port hands stdout over as byte arrays.
const stdout = (data) => { chunks.push(typeof data === "string" ? Buffer.from(data) : Buffer.from(data)); };
const mp = await loadMicroPython({ heapsize: 16 * 1024 * 1024, stdout, linebuffer: false });
const output = () => Buffer.concat(chunks);
mp.FS.mkdir("/postureclip");
for (const name of readdirSync(join(fwDir, "postureclip"))) {
  if (name.endsWith(".py")) {
    mp.FS.writeFile("/postureclip/" + name, readFileSync(join(fwDir, "postureclip", name)));
  }
}
mp.FS.writeFile("/input.txt", readFileSync(input));
mp.runPython("import sys\nsys.path.insert(0, '/')\n");
try {
  mp.runPython(readFileSync(script, "utf8"));
} catch (err) {
  process.stdout.write(output());
  process.stderr.write(String(err) + "\n");
  process.exit(1);
}
process.stdout.write(output());
