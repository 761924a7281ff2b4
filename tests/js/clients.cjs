// ethers v6 and viem against the L2 RPC: chain id, a signed transfer and its receipt, fee data,
// block tags, and new blocks over WebSocket; viem's multicall through the Multicall3 predeploy; ethers'
// provider.getSigner() with the node's own dev account (send, signMessage, signTypedData).
// Prints one JSON line for the Python test to check.
// usage: node tests/js/clients.cjs HTTP_URL WS_URL PRIVATE_KEY_A PRIVATE_KEY_B
"use strict";
const path = require("path");
const { createRequire } = require("module");
const load = createRequire(path.join(__dirname, "..", "..", "tools", "package.json"));
const ethers = load("ethers");
const viem = load("viem");
const { privateKeyToAccount } = load("viem/accounts");

const [httpUrl, wsUrl, keyA, keyB] = process.argv.slice(2);
const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";

function withTimeout(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms))]);
}

async function viaEthers() {
  const provider = new ethers.JsonRpcProvider(httpUrl, undefined, { staticNetwork: true });
  const wallet = new ethers.Wallet(keyA, provider);
  const network = await provider.getNetwork();
  const fee = await provider.getFeeData();
  const tx = await wallet.sendTransaction({ to: ethers.Wallet.createRandom().address, value: 1234n });
  const receipt = await withTimeout(tx.wait(), 30000, "ethers receipt");
  const ws = new ethers.WebSocketProvider(wsUrl);
  // Not destroyed: ethers 6 cancels its own pending eth_unsubscribe on destroy (it does the same
  // against Anvil) and reports that as an error; the script exits when done instead.
  const block = await withTimeout(new Promise((resolve) => ws.once("block", resolve)), 15000, "ethers ws block");
  return { chainId: Number(network.chainId), status: receipt.status, maxFee: fee.maxFeePerGas > 0n, wsBlock: block };
}

async function viaViem() {
  const account = privateKeyToAccount(keyB);
  const publicClient = viem.createPublicClient({ transport: viem.http(httpUrl) });
  const chainId = await publicClient.getChainId();
  const chain = viem.defineChain({
    id: chainId, name: "devnet-l2", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [httpUrl], webSocket: [wsUrl] } },
    contracts: { multicall3: { address: MULTICALL3 } },
  });
  const wallet = viem.createWalletClient({ account, chain, transport: viem.http(httpUrl) });
  const hash = await wallet.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 5n });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 30000 });
  const safe = await publicClient.getBlock({ blockTag: "safe" });
  const wsClient = viem.createPublicClient({ chain, transport: viem.webSocket(wsUrl) });
  const head = await withTimeout(new Promise((resolve) => {
    const stop = wsClient.watchBlockNumber({ onBlockNumber: (n) => { stop(); resolve(Number(n)); }, emitOnBegin: false });
  }), 15000, "viem ws block");
  const chainClient = viem.createPublicClient({ chain, transport: viem.http(httpUrl) });
  const [balance, timestamp] = await chainClient.multicall({
    allowFailure: false,
    contracts: [
      { address: MULTICALL3, abi: viem.multicall3Abi, functionName: "getEthBalance", args: [account.address] },
      { address: MULTICALL3, abi: viem.multicall3Abi, functionName: "getCurrentBlockTimestamp" },
    ],
  });
  const multicall = { balance: balance.toString(), direct: (await chainClient.getBalance({ address: account.address })).toString(),
                      timestamp: Number(timestamp) };
  return { chainId, status: receipt.status, safe: Number(safe.number), wsBlock: head, multicall };
}

async function viaNodeSigner() {
  const provider = new ethers.JsonRpcProvider(httpUrl, undefined, { staticNetwork: true, pollingInterval: 100 });
  const signer = await provider.getSigner(2);
  const address = await signer.getAddress();
  const tx = await signer.sendTransaction({ to: "0x000000000000000000000000000000000000dEaD", value: 7n });
  const receipt = await withTimeout(tx.wait(), 30000, "ethers getSigner receipt");
  const message = await signer.signMessage("hello rollup");
  const domain = { name: "Devnet", version: "1", chainId: 901, verifyingContract: "0x000000000000000000000000000000000000dEaD" };
  const types = { Mail: [{ name: "to", type: "address" }, { name: "contents", type: "string" }] };
  const value = { to: "0x000000000000000000000000000000000000bEEF", contents: "gm" };
  const typed = await signer.signTypedData(domain, types, value);
  return {
    address, status: receipt.status, from: receipt.from,
    messageSigner: ethers.verifyMessage("hello rollup", message),
    typedSigner: ethers.verifyTypedData(domain, types, value, typed),
  };
}

(async () => {
  const result = { ethers: await viaEthers(), viem: await viaViem(), signer: await viaNodeSigner() };
  console.log(JSON.stringify(result));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
