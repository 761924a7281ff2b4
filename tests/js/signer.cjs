// ethers v6 with the node's own accounts (as against Anvil): provider.getSigner() sends a
// transaction, signs a message and EIP-712 typed data. Prints one JSON line for the Python test.
// usage: node tests/js/signer.cjs HTTP_URL
"use strict";
const path = require("path");
const { createRequire } = require("module");
const load = createRequire(path.join(__dirname, "..", "..", "tools", "package.json"));
const ethers = load("ethers");

const [httpUrl] = process.argv.slice(2);

(async () => {
  const provider = new ethers.JsonRpcProvider(httpUrl, undefined, { staticNetwork: true });
  const signer = await provider.getSigner(2);
  const address = await signer.getAddress();
  const tx = await signer.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 7n });
  const receipt = await tx.wait();
  const message = await signer.signMessage("hello rollup");
  const domain = { name: "Devnet", version: "1", chainId: 901, verifyingContract: "0x000000000000000000000000000000000000dEaD" };
  const types = { Mail: [{ name: "to", type: "address" }, { name: "contents", type: "string" }] };
  const value = { to: "0x000000000000000000000000000000000000bEEF", contents: "gm" };
  const typed = await signer.signTypedData(domain, types, value);
  console.log(JSON.stringify({
    address, status: receipt.status, from: receipt.from,
    messageSigner: ethers.verifyMessage("hello rollup", message),
    typedSigner: ethers.verifyTypedData(domain, types, value, typed),
  }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
