// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISequencerRegistry} from "./ISequencerRegistry.sol";
import {ISharedSequencerRegistry} from "./ISharedSequencerRegistry.sol";

/// @title Inbox
/// @notice Where sequencers post L2 batches, and where anyone can queue an L2 transaction that
///         the L2 must include by a deadline (force inclusion).
/// @dev L1 checks who posts and how far into the forced queue a batch claims to reach; what a
///      batch holds is judged by derivation on every node, which is authoritative: an entry past
///      its deadline that no derived block consumed is inserted by derivation itself.
contract Inbox {
    /// @notice The caller is not the sequencer the registry names for this chain and L1 block.
    error NotSequencer(address caller, address expected);
    /// @notice A batch must hold data.
    error EmptyBatch();
    /// @notice The declared L2 block range is reversed.
    error InvalidBlockRange(uint64 first, uint64 last);
    /// @notice The batch's forced-queue cursor is past the end of the queue.
    error InvalidForcedCursor(uint64 cursor, uint256 queued);
    /// @notice The batch leaves a forced entry unconsumed after its deadline.
    error ForcedTxOverdue(uint256 index, uint256 deadline);
    /// @notice A forced transaction must hold bytes.
    error EmptyTransaction();
    /// @notice A forced transaction is larger than the L2 accepts.
    error TransactionTooLarge(uint256 size, uint256 limit);
    /// @notice The fee sent with forceInclude is too low.
    error InsufficientFee(uint256 sent, uint256 required);
    /// @notice No forced entry is past its deadline and unrecorded.
    error NothingOverdue();
    /// @notice Only the registry's admin may do this.
    error NotAdmin(address caller);
    /// @notice An inclusion window must be at least one L1 block.
    error InvalidWindow();
    /// @notice There are no fees to withdraw.
    error NothingToWithdraw();
    /// @notice Sending ETH failed.
    error TransferFailed();
    /// @notice A shared batch must hold one segment per chain, in strictly ascending chain id order.
    error SegmentsUnordered(uint256 index);
    /// @notice A shared batch holds between 1 and MAX_SHARED_SEGMENTS segments, each with its data.
    error InvalidSegmentCount(uint256 segments, uint256 datas);
    /// @notice A segment's data does not hash to its declared dataHash.
    error SegmentDataMismatch(uint256 chainId);
    /// @notice A shared batch leaves a forced entry of `chainId` unconsumed after its deadline.
    error ChainForcedTxOverdue(uint256 chainId, uint256 index, uint256 deadline);

    /// @notice A batch of L2 blocks `firstL2Block..lastL2Block` was posted for `chainId`.
    event BatchPosted(
        uint256 indexed chainId,
        uint256 indexed batchIndex,
        address indexed sender,
        uint64 firstL2Block,
        uint64 lastL2Block,
        bytes32 dataHash
    );
    /// @notice An L2 transaction was queued for force inclusion. `signedTx` is carried so nodes
    ///         can read it even when forceInclude was called by a contract.
    event ForcedTxQueued(
        uint256 indexed chainId, uint256 indexed index, bytes32 txHash, address sender, uint256 deadline, bytes signedTx
    );
    /// @notice A batch consumed forced entries `fromIndex..toIndex-1`, in L2 blocks up to `lastL2Block`.
    event ForcedTxIncluded(uint256 indexed chainId, uint256 fromIndex, uint256 toIndex, uint64 lastL2Block);
    /// @notice Overdue entries `fromIndex..toIndex-1` were recorded as forced in by `caller`.
    event ForcedInclusionRecorded(uint256 indexed chainId, uint256 fromIndex, uint256 toIndex, address caller);
    /// @notice A shared batch (mode `shared`) was posted: one L1 transaction carrying `segmentCount`
    ///         chains' segments; `segmentsHash` = keccak256(abi.encode(segments)) is what a follower checks
    ///         its namespace against (see `sharedBatchDigest`). Each segment also emits its own BatchPosted.
    event SharedBatchPosted(
        uint256 indexed sharedIndex, address indexed sender, bytes32 segmentsHash, uint256 segmentCount
    );
    /// @notice The inclusion window of a chain changed.
    event InclusionWindowSet(uint256 indexed chainId, uint256 window);
    /// @notice Fees were credited to `account` (the poster or recorder of forced entries).
    event FeesCredited(address indexed account, uint256 amount);
    /// @notice `account` withdrew its credited fees.
    event FeesWithdrawn(address indexed account, uint256 amount);

    /// @notice One chain's part (namespace) of a shared batch.
    struct Segment {
        uint256 chainId;
        uint64 firstL2Block;
        uint64 lastL2Block;
        uint64 forcedEnd;
        bytes32 dataHash;
    }

    struct ForcedEntry {
        bytes32 txHash;
        address sender;
        uint64 l1Block;
        uint64 deadline;
    }

    /// @notice The largest forced transaction accepted, as the L2 mempool limit.
    uint256 public constant MAX_FORCED_TX_BYTES = 128 * 1024;

    /// @notice The registry that names the sequencer.
    ISequencerRegistry public immutable registry;
    /// @notice The fee forceInclude requires (paid to whoever gets the entry included).
    uint256 public immutable forcedInclusionFee;
    /// @notice The inclusion window of chains without their own.
    uint256 public immutable defaultInclusionWindow;
    /// @notice Most chains one shared batch may carry.
    uint256 public constant MAX_SHARED_SEGMENTS = 8;
    /// @notice Shared batches posted so far.
    uint256 public sharedBatchCount;
    /// @notice Batches posted so far, per chain.
    mapping(uint256 chainId => uint256 count) public batchCount;
    /// @notice How far into each chain's forced queue L1 has seen entries consumed or forced.
    mapping(uint256 chainId => uint256 cursor) public forcedCursor;
    /// @notice Fees waiting to be withdrawn.
    mapping(address account => uint256 amount) public feesOwed;
    mapping(uint256 chainId => ForcedEntry[] entries) private forcedQueue;
    mapping(uint256 chainId => uint256 window) private inclusionWindows;
    mapping(uint256 chainId => mapping(uint256 index => bool)) private late;

    /// @param registry_ The sequencer registry.
    /// @param defaultInclusionWindow_ L1 blocks a forced entry may wait before it is overdue.
    /// @param forcedInclusionFee_ Wei forceInclude requires.
    constructor(address registry_, uint256 defaultInclusionWindow_, uint256 forcedInclusionFee_) {
        if (defaultInclusionWindow_ == 0) revert InvalidWindow();
        registry = ISequencerRegistry(registry_);
        defaultInclusionWindow = defaultInclusionWindow_;
        forcedInclusionFee = forcedInclusionFee_;
    }

    /// @notice Post a batch of L2 blocks as calldata.
    /// @param chainId The L2 chain.
    /// @param firstL2Block Number of the first L2 block in the batch.
    /// @param lastL2Block Number of the last L2 block in the batch.
    /// @param forcedEnd The batch's blocks consumed the forced queue up to (not including) this index.
    /// @param data The encoded batch (version, compression, compressed RLP).
    /// @param attestations Signatures over batchDigest(...) the registry's mode requires (empty in `single`).
    function postBatch(
        uint256 chainId,
        uint64 firstL2Block,
        uint64 lastL2Block,
        uint64 forcedEnd,
        bytes calldata data,
        bytes calldata attestations
    ) external {
        registry.onBatch(
            chainId, batchDigest(chainId, firstL2Block, lastL2Block, forcedEnd, keccak256(data)), attestations
        );
        _checkSender(chainId);
        if (data.length == 0) revert EmptyBatch();
        ForcedEntry[] storage queue = forcedQueue[chainId];
        if (forcedEnd < queue.length && queue[forcedEnd].deadline < block.number) {
            revert ForcedTxOverdue(forcedEnd, queue[forcedEnd].deadline);
        }
        _record(Segment(chainId, firstL2Block, lastL2Block, forcedEnd, keccak256(data)));
    }

    /// @notice Post one batch carrying segments of several L2 chains (mode `shared`), attested once.
    /// @dev Needs a registry implementing ISharedSequencerRegistry. Segments are in strictly ascending
    ///      chain id order (so a chain has at most one segment per shared batch); segment `i`'s data
    ///      is `datas[i]` (an ordinary batch of that chain) and must hash to its `dataHash`. The sender
    ///      must be every chain's sequencer; every chain's forced queue is enforced as by postBatch.
    ///      Each segment emits the chain's own BatchPosted, then one SharedBatchPosted follows.
    /// @param segments Each chain's range, forced cursor and data hash.
    /// @param datas Each segment's batch data, in the same order.
    /// @param attestations Signatures over sharedBatchDigest(segments), signers in ascending order.
    function postSharedBatch(Segment[] calldata segments, bytes[] calldata datas, bytes calldata attestations)
        external
    {
        uint256 count = segments.length;
        if (count == 0 || count > MAX_SHARED_SEGMENTS || datas.length != count) {
            revert InvalidSegmentCount(count, datas.length);
        }
        uint256[] memory chainIds = new uint256[](count);
        for (uint256 i = 0; i < count; i++) {
            Segment calldata segment = segments[i];
            if (i > 0 && segment.chainId <= segments[i - 1].chainId) revert SegmentsUnordered(i);
            if (datas[i].length == 0) revert EmptyBatch();
            if (keccak256(datas[i]) != segment.dataHash) revert SegmentDataMismatch(segment.chainId);
            chainIds[i] = segment.chainId;
        }
        bytes32 segmentsHash = keccak256(abi.encode(segments));
        ISharedSequencerRegistry(address(registry)).onSharedBatch(chainIds, sharedBatchDigest(segmentsHash), attestations);
        for (uint256 i = 0; i < count; i++) {
            Segment calldata segment = segments[i];
            _checkSender(segment.chainId);
            ForcedEntry[] storage queue = forcedQueue[segment.chainId];
            if (segment.forcedEnd < queue.length && queue[segment.forcedEnd].deadline < block.number) {
                revert ChainForcedTxOverdue(segment.chainId, segment.forcedEnd, queue[segment.forcedEnd].deadline);
            }
            _record(segment);
        }
        emit SharedBatchPosted(sharedBatchCount++, msg.sender, segmentsHash, count);
    }

    /// @notice Queue a signed L2 transaction that the L2 must include within the inclusion window.
    /// @param chainId The L2 chain.
    /// @param signedTx The raw signed L2 transaction (as for eth_sendRawTransaction).
    /// @return index The entry's position in the chain's forced queue.
    function forceInclude(uint256 chainId, bytes calldata signedTx) external payable returns (uint256 index) {
        if (signedTx.length == 0) revert EmptyTransaction();
        if (signedTx.length > MAX_FORCED_TX_BYTES) revert TransactionTooLarge(signedTx.length, MAX_FORCED_TX_BYTES);
        if (msg.value < forcedInclusionFee) revert InsufficientFee(msg.value, forcedInclusionFee);
        uint256 deadline = block.number + inclusionWindow(chainId);
        bytes32 txHash = keccak256(signedTx);
        index = forcedQueue[chainId].length;
        forcedQueue[chainId].push(
            ForcedEntry({txHash: txHash, sender: msg.sender, l1Block: uint64(block.number), deadline: uint64(deadline)})
        );
        emit ForcedTxQueued(chainId, index, txHash, msg.sender, deadline, signedTx);
    }

    /// @notice Record every entry past its deadline as forced in, when no batch consumed it.
    /// @dev Derivation already inserts such entries; this puts it on the L1 record (Arbitrum's
    ///      forceInclusion is the model) and pays the entries' fees to the caller.
    /// @param chainId The L2 chain.
    function forceInclusion(uint256 chainId) external {
        ForcedEntry[] storage queue = forcedQueue[chainId];
        uint256 from = forcedCursor[chainId];
        uint256 to = from;
        while (to < queue.length && queue[to].deadline < block.number) {
            to++;
        }
        if (to == from) revert NothingOverdue();
        forcedCursor[chainId] = to;
        for (uint256 i = from; i < to; i++) {
            late[chainId][i] = true;
        }
        emit ForcedInclusionRecorded(chainId, from, to, msg.sender);
        _credit(msg.sender, (to - from) * forcedInclusionFee);
    }

    /// @notice Set a chain's inclusion window (devnet admin of the registry only).
    /// @param chainId The L2 chain.
    /// @param window L1 blocks an entry may wait.
    function setInclusionWindow(uint256 chainId, uint256 window) external {
        if (msg.sender != registry.admin()) revert NotAdmin(msg.sender);
        if (window == 0) revert InvalidWindow();
        inclusionWindows[chainId] = window;
        emit InclusionWindowSet(chainId, window);
    }

    /// @notice Withdraw the fees credited to the caller (pull payment).
    function withdrawFees() external {
        uint256 amount = feesOwed[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        feesOwed[msg.sender] = 0;
        emit FeesWithdrawn(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert TransferFailed();
    }

    /// @notice L1 blocks a forced entry of `chainId` may wait before it is overdue.
    function inclusionWindow(uint256 chainId) public view returns (uint256) {
        uint256 window = inclusionWindows[chainId];
        return window == 0 ? defaultInclusionWindow : window;
    }

    /// @notice What validators attest to for a batch (raw digest, no EIP-191 prefix):
    ///         keccak256(abi.encode(uint256 block.chainid, address(this), uint256 chainId, uint64 firstL2Block,
    ///         uint64 lastL2Block, uint64 forcedEnd, bytes32 dataHash)). The L1 chain id and this
    ///         Inbox's address make an attestation valid on this deployment only.
    /// @param chainId The L2 chain.
    /// @param firstL2Block Number of the first L2 block in the batch.
    /// @param lastL2Block Number of the last L2 block in the batch.
    /// @param forcedEnd The forced-queue index the batch consumes up to.
    /// @param dataHash keccak256 of the batch data.
    /// @return The digest attestations sign.
    function batchDigest(uint256 chainId, uint64 firstL2Block, uint64 lastL2Block, uint64 forcedEnd, bytes32 dataHash)
        public
        view
        returns (bytes32)
    {
        return
            keccak256(abi.encode(block.chainid, address(this), chainId, firstL2Block, lastL2Block, forcedEnd, dataHash));
    }

    /// @notice What validators attest to for a shared batch (raw digest, no EIP-191 prefix):
    ///         keccak256(abi.encode(uint256 block.chainid, address(this), bytes32 segmentsHash)) with
    ///         segmentsHash = keccak256(abi.encode(Segment[] segments)): the per-namespace list of
    ///         (chainId, firstL2Block, lastL2Block, forcedEnd, dataHash) a follower checks its namespace against.
    /// @param segmentsHash keccak256(abi.encode(segments)).
    /// @return The digest attestations sign.
    function sharedBatchDigest(bytes32 segmentsHash) public view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), segmentsHash));
    }

    /// @notice Whether entry `index` was consumed after its deadline or recorded as forced, and its deadline.
    function lateness(uint256 chainId, uint256 index) external view returns (bool, uint256) {
        ForcedEntry[] storage queue = forcedQueue[chainId];
        if (index >= queue.length) return (false, 0);
        return (late[chainId][index], queue[index].deadline);
    }

    /// @notice Number of entries ever queued for `chainId`.
    function forcedQueueLength(uint256 chainId) external view returns (uint256) {
        return forcedQueue[chainId].length;
    }

    /// @notice One forced-queue entry.
    function forcedEntry(uint256 chainId, uint256 index) external view returns (ForcedEntry memory) {
        return forcedQueue[chainId][index];
    }

    /// @dev Revert unless the caller is the sequencer the registry names for `chainId` now.
    function _checkSender(uint256 chainId) private view {
        address expected = registry.sequencerFor(chainId, block.number);
        if (msg.sender != expected || expected == address(0)) revert NotSequencer(msg.sender, expected);
    }

    /// @dev Record one chain's batch: its range, forced cursor, fees and BatchPosted (sender and the
    ///      overdue rule already checked).
    function _record(Segment memory segment) private {
        uint256 chainId = segment.chainId;
        if (segment.firstL2Block > segment.lastL2Block) {
            revert InvalidBlockRange(segment.firstL2Block, segment.lastL2Block);
        }
        ForcedEntry[] storage queue = forcedQueue[chainId];
        uint64 forcedEnd = segment.forcedEnd;
        if (forcedEnd > queue.length) revert InvalidForcedCursor(forcedEnd, queue.length);
        uint256 index = batchCount[chainId]++;
        uint256 cursor = forcedCursor[chainId];
        if (forcedEnd > cursor) {
            forcedCursor[chainId] = forcedEnd;
            for (uint256 i = cursor; i < forcedEnd; i++) {
                if (queue[i].deadline < block.number) late[chainId][i] = true;
            }
            emit ForcedTxIncluded(chainId, cursor, forcedEnd, segment.lastL2Block);
            _credit(msg.sender, (forcedEnd - cursor) * forcedInclusionFee);
        }
        emit BatchPosted(chainId, index, msg.sender, segment.firstL2Block, segment.lastL2Block, segment.dataHash);
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        feesOwed[account] += amount;
        emit FeesCredited(account, amount);
    }
}
