// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StakingRegistry} from "./StakingRegistry.sol";
import {SequencerChangeReason} from "./SequencerChangeReason.sol";

/// @title SequencerAuction (mode `auction`)
/// @notice The staking registry of mode `pos` plus a sealed-bid, commit-reveal, second-price auction
///         for the right to sequence each chain for one epoch. Proceeds go to the stakers.
/// @dev Timeline of the auction for epoch `e` (epoch start `s = e * epochLength`, `close = s - closeOffset`):
///      commits while `block.number < close`; reveals while `close <= block.number < close + revealWindow`;
///      `settle` by anyone from `close + revealWindow` on (`closeOffset > revealWindow`, so there is
///      time to settle before the epoch starts).
///      Rules of `settle`:
///      - a valid bid is revealed, at least `reservePrice`, by a validator that is bonded (active),
///        not jailed and not unbonding at settlement; anything else is passed over (and refunded);
///      - the highest valid bid wins and pays the second-highest valid bid, or `reservePrice` when
///        it is the only valid bid;
///      - ties: among equal amounts the bidder with the smaller `keccak256(abi.encode(chainId, epoch,
///        bidder))` wins (it then pays its own amount, the tie being the second price);
///      - a commitment never revealed forfeits `penaltyBps` of its collateral to the proceeds;
///      - everything else (losers' collateral, the winner's change, the rest of unrevealed
///        collateral) is credited to `refunds` and withdrawn with `withdrawRefund()`.
///      Proceeds (price + forfeits) less `burnBps` are credited to the active stakers pro rata to
///      stake at settlement through an accumulator (`claim()`); the burned share stays in the
///      contract, counted in `burnedProceeds`.
///      Leadership: a valid winner leads its epoch (`sequencerFor`), announced with
///      `SequencerChanged(reason = 1 auction)`; with no valid bid, or once the winner left the set,
///      the `pos` stake-weighted rule applies. Each liveness timeout hands the epoch to the next
///      `pos` candidate (the pos leader first, never straight back to the winner); the price is
///      not refunded. Slashing applies to a winner as to any validator.
///      One live commitment per bidder, chain and epoch: a second `commitBid` reverts.
contract SequencerAuction is StakingRegistry {
    /// @notice Auction parameters.
    struct AuctionParams {
        uint256 closeOffset; // L1 blocks before an epoch's start at which its bidding closes
        uint256 revealWindow; // L1 blocks of reveals after the close
        uint256 reservePrice; // smallest valid bid (wei)
        uint256 penaltyBps; // share of an unrevealed commitment's collateral forfeited
        uint256 burnBps; // share of the proceeds burned
    }

    struct Bid {
        bytes32 commitment;
        uint128 collateral;
        uint128 amount;
        bool revealed;
    }

    struct Tally {
        address winner;
        uint256 best;
        bytes32 bestKey;
        uint256 second;
        bool hasSecond;
        uint256 forfeits;
        uint256 held;
    }

    struct Auction {
        bool settled;
        address winner;
        uint256 price;
        uint256 secondPrice;
        uint256 forfeits;
        address[] bidders;
    }

    /// @notice Bidding for this epoch is closed (or was never open).
    error CommitClosed(uint256 chainId, uint256 epoch, uint256 closedAt);
    /// @notice The bidder already holds a commitment for this chain and epoch.
    error AlreadyCommitted(address bidder);
    /// @notice A commitment needs collateral.
    error NoCollateral();
    /// @notice The bidder is not a bonded, non-jailed, non-unbonding validator.
    error NotBonded(address bidder);
    /// @notice Not in the reveal window [opensAt, closesAt).
    error RevealClosed(uint256 opensAt, uint256 closesAt);
    /// @notice The bidder has no commitment for this chain and epoch.
    error NoCommitment(address bidder);
    /// @notice The bid was revealed already.
    error AlreadyRevealed(address bidder);
    /// @notice (amount, salt) do not open the commitment.
    error RevealMismatch(address bidder);
    /// @notice The revealed amount is above the collateral.
    error BidOverCollateral(uint256 amount, uint256 collateral);
    /// @notice The reveal window has not ended.
    error SettleTooEarly(uint256 settlesFrom);
    /// @notice This auction was settled already.
    error AlreadySettled(uint256 chainId, uint256 epoch);

    /// @notice `bidder` committed `commitment` with `collateral` for (chainId, epoch).
    event BidCommitted(
        uint256 indexed chainId, uint256 indexed epoch, address indexed bidder, bytes32 commitment, uint256 collateral
    );
    /// @notice `bidder` revealed `amount` for (chainId, epoch).
    event BidRevealed(uint256 indexed chainId, uint256 indexed epoch, address indexed bidder, uint256 amount);
    /// @notice The auction of (chainId, epoch) is settled: `winner` (zero: none) pays `price`;
    ///         `secondPrice` is the second-highest valid bid (zero if none); `bidders` committed.
    event AuctionSettled(
        uint256 indexed chainId,
        uint256 indexed epoch,
        address winner,
        uint256 price,
        uint256 secondPrice,
        uint256 bidders
    );
    /// @notice `bidder` never revealed and forfeited `penalty`.
    event BidForfeited(uint256 indexed chainId, uint256 indexed epoch, address indexed bidder, uint256 penalty);
    /// @notice `toStakers` was credited to the active stakers, `burnedAmount` burned.
    event ProceedsDistributed(uint256 indexed chainId, uint256 indexed epoch, uint256 toStakers, uint256 burnedAmount);
    /// @notice `staker` claimed `amount` of auction proceeds.
    event ProceedsClaimed(address indexed staker, uint256 amount);
    /// @notice `bidder` withdrew `amount` of refunded collateral.
    event RefundWithdrawn(address indexed bidder, uint256 amount);

    uint256 internal constant SCALE = 1e36;

    /// @notice L1 blocks before an epoch's start at which its bidding closes.
    uint256 public immutable closeOffset;
    /// @notice L1 blocks of reveals after the close.
    uint256 public immutable revealWindow;
    /// @notice Smallest valid bid, and the price of a lone valid bid.
    uint256 public immutable reservePrice;
    /// @notice Share (bps) of an unrevealed commitment's collateral forfeited to the proceeds.
    uint256 public immutable penaltyBps;
    /// @notice Share (bps) of the proceeds burned.
    uint256 public immutable burnBps;

    /// @notice Bids by chain, epoch and bidder.
    mapping(uint256 chainId => mapping(uint256 epoch => mapping(address bidder => Bid bid))) public bids;
    mapping(uint256 chainId => mapping(uint256 epoch => Auction auction)) internal auctions;
    /// @notice Collateral waiting to be withdrawn (`withdrawRefund`).
    mapping(address bidder => uint256 amount) public refunds;
    /// @notice Proceeds per unit of active stake, scaled by 1e36, since deployment.
    uint256 public proceedsPerStake;
    mapping(address staker => uint256 value) internal proceedsDebt;
    /// @dev Accrued, unclaimed proceeds x SCALE: the sub-wei remainder of each accrual is kept, not
    ///      truncated away, so rounding loses less than one wei per staker in total (not per accrual).
    mapping(address staker => uint256 scaledAmount) internal proceedsOwedScaled;

    /// @notice Collateral ever committed.
    uint256 public collateralIn;
    /// @notice Collateral credited back to bidders.
    uint256 public refundsCredited;
    /// @notice Prices paid by winners.
    uint256 public pricesPaid;
    /// @notice Penalties of unrevealed commitments.
    uint256 public forfeited;
    /// @notice Collateral of auctions not settled yet.
    uint256 public collateralHeld;
    /// @notice Proceeds credited to stakers.
    uint256 public proceedsToStakers;
    /// @notice Proceeds burned (kept by the contract for good), incl. proceeds with no staker to take them.
    uint256 public burnedProceeds;
    /// @notice Proceeds claimed by stakers.
    uint256 public proceedsClaimed;

    /// @param admin_ The devnet admin (sets the Inbox once; renounceable).
    /// @param epochLength_ L1 blocks per epoch.
    /// @param livenessTimeout_ L1 blocks without a batch before the leader can be skipped.
    /// @param minStake_ Smallest stake.
    /// @param unbondingDelay_ L1 blocks from requestUnstake to withdraw.
    /// @param reporterShareBps_ Reporter's share of a slashed stake (basis points).
    /// @param params Auction parameters (closeOffset > revealWindow > 0, bps <= 10000).
    constructor(
        address admin_,
        uint256 epochLength_,
        uint256 livenessTimeout_,
        uint256 minStake_,
        uint256 unbondingDelay_,
        uint256 reporterShareBps_,
        AuctionParams memory params
    ) StakingRegistry(admin_, epochLength_, livenessTimeout_, minStake_, unbondingDelay_, reporterShareBps_) {
        if (
            params.revealWindow == 0 || params.closeOffset <= params.revealWindow || params.penaltyBps > 10_000
                || params.burnBps > 10_000
        ) revert InvalidParameter();
        closeOffset = params.closeOffset;
        revealWindow = params.revealWindow;
        reservePrice = params.reservePrice;
        penaltyBps = params.penaltyBps;
        burnBps = params.burnBps;
    }

    /// @notice The L1 block at which bidding for `epoch` closes and reveals open (0 if it never opened).
    function closeBlock(uint256 epoch) public view returns (uint256) {
        uint256 start = epoch * epochLength;
        return start > closeOffset ? start - closeOffset : 0;
    }

    /// @notice What a bidder commits to: keccak256(abi.encode(chainId, epoch, bidder, amount, salt, this)).
    function commitmentOf(uint256 chainId, uint256 epoch, address bidder, uint256 amount, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(chainId, epoch, bidder, amount, salt, address(this)));
    }

    /// @notice Commit a sealed bid for sequencing `chainId` during `epoch`; `msg.value` is the collateral.
    /// @param chainId The L2 chain.
    /// @param epoch The epoch bid for (bidding closes `closeOffset` blocks before it starts).
    /// @param commitment `commitmentOf(chainId, epoch, msg.sender, amount, salt)`.
    function commitBid(uint256 chainId, uint256 epoch, bytes32 commitment) external payable {
        uint256 close = closeBlock(epoch);
        if (block.number >= close) revert CommitClosed(chainId, epoch, close);
        if (msg.value == 0) revert NoCollateral();
        if (!_eligible(msg.sender)) revert NotBonded(msg.sender);
        Bid storage bid = bids[chainId][epoch][msg.sender];
        if (bid.collateral != 0) revert AlreadyCommitted(msg.sender);
        bid.commitment = commitment;
        bid.collateral = uint128(msg.value);
        auctions[chainId][epoch].bidders.push(msg.sender);
        collateralIn += msg.value;
        collateralHeld += msg.value;
        emit BidCommitted(chainId, epoch, msg.sender, commitment, msg.value);
    }

    /// @notice Open your commitment during the reveal window.
    /// @param chainId The L2 chain.
    /// @param epoch The epoch.
    /// @param amount The bid (at most the collateral).
    /// @param salt The salt committed to.
    function revealBid(uint256 chainId, uint256 epoch, uint256 amount, bytes32 salt) external {
        uint256 close = closeBlock(epoch);
        if (block.number < close || block.number >= close + revealWindow) {
            revert RevealClosed(close, close + revealWindow);
        }
        Bid storage bid = bids[chainId][epoch][msg.sender];
        if (bid.collateral == 0) revert NoCommitment(msg.sender);
        if (bid.revealed) revert AlreadyRevealed(msg.sender);
        if (commitmentOf(chainId, epoch, msg.sender, amount, salt) != bid.commitment) revert RevealMismatch(msg.sender);
        if (amount > bid.collateral) revert BidOverCollateral(amount, bid.collateral);
        bid.revealed = true;
        bid.amount = uint128(amount);
        emit BidRevealed(chainId, epoch, msg.sender, amount);
    }

    /// @notice Settle the auction of (chainId, epoch) once its reveal window is over (anyone, once).
    /// @param chainId The L2 chain.
    /// @param epoch The epoch.
    function settle(uint256 chainId, uint256 epoch) external {
        Auction storage auction = auctions[chainId][epoch];
        if (auction.settled) revert AlreadySettled(chainId, epoch);
        uint256 from = closeBlock(epoch) + revealWindow;
        if (block.number < from) revert SettleTooEarly(from);
        auction.settled = true;

        Tally memory tally;
        address[] storage bidders = auction.bidders;
        for (uint256 i = 0; i < bidders.length; i++) {
            _tallyBid(chainId, epoch, bidders[i], tally);
        }
        address winner = tally.winner;
        uint256 price = winner == address(0) ? 0 : (tally.hasSecond ? tally.second : reservePrice);
        if (winner != address(0)) refunds[winner] -= price;

        auction.winner = winner;
        auction.price = price;
        auction.secondPrice = tally.second;
        auction.forfeits = tally.forfeits;
        collateralHeld -= tally.held;
        refundsCredited += tally.held - price - tally.forfeits;
        pricesPaid += price;
        forfeited += tally.forfeits;
        emit AuctionSettled(chainId, epoch, winner, price, tally.second, bidders.length);
        _distribute(chainId, epoch, price + tally.forfeits);

        // Settled during its own epoch: the winner takes over from the fallback leader.
        ChainSchedule storage schedule = schedules[chainId];
        if (winner != address(0) && schedule.started && schedule.epoch == epoch && schedule.skips == 0) {
            _setLeader(chainId, winner, SequencerChangeReason.AUCTION);
        }
    }

    /// @notice Claim your share of auction proceeds (pull payment; reverts with NothingToClaim when none).
    function claim() external {
        _accrue(msg.sender);
        uint256 amount = proceedsOwedScaled[msg.sender] / SCALE;
        if (amount == 0) revert NothingToClaim();
        proceedsOwedScaled[msg.sender] -= amount * SCALE;
        proceedsClaimed += amount;
        emit ProceedsClaimed(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert TransferFailed();
    }

    /// @notice Withdraw refunded collateral (pull payment).
    function withdrawRefund() external {
        uint256 amount = refunds[msg.sender];
        if (amount == 0) revert NothingToClaim();
        refunds[msg.sender] = 0;
        emit RefundWithdrawn(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert TransferFailed();
    }

    /// @notice Auction proceeds `staker` can claim now.
    function claimable(address staker) public view returns (uint256) {
        return (proceedsOwedScaled[staker] + _accruedScaled(staker)) / SCALE;
    }

    /// @notice The outcome of (chainId, epoch): settled, winner (zero: none), price, second price,
    ///         forfeits, and who committed (in commit order).
    function auctionOf(uint256 chainId, uint256 epoch)
        external
        view
        returns (
            bool settled,
            address winner,
            uint256 price,
            uint256 secondPrice,
            uint256 forfeits,
            address[] memory bidders
        )
    {
        Auction storage auction = auctions[chainId][epoch];
        return (auction.settled, auction.winner, auction.price, auction.secondPrice, auction.forfeits, auction.bidders);
    }

    /// @notice The valid winner of (chainId, epoch): settled and still bonded (zero otherwise).
    function winnerOf(uint256 chainId, uint256 epoch) public view returns (address) {
        address winner = auctions[chainId][epoch].winner;
        return winner != address(0) && _eligible(winner) ? winner : address(0);
    }

    /// @dev Credit one bid's collateral back (less a penalty when unrevealed) and rank it.
    function _tallyBid(uint256 chainId, uint256 epoch, address bidder, Tally memory tally) private {
        Bid storage bid = bids[chainId][epoch][bidder];
        uint256 collateral = bid.collateral;
        tally.held += collateral;
        if (!bid.revealed) {
            uint256 penalty = collateral * penaltyBps / 10_000;
            tally.forfeits += penalty;
            refunds[bidder] += collateral - penalty;
            emit BidForfeited(chainId, epoch, bidder, penalty);
            return;
        }
        refunds[bidder] += collateral;
        uint256 amount = bid.amount;
        if (amount < reservePrice || !_eligible(bidder)) return;
        bytes32 key = keccak256(abi.encode(chainId, epoch, bidder));
        if (tally.winner == address(0) || amount > tally.best || (amount == tally.best && key < tally.bestKey)) {
            if (tally.winner != address(0)) {
                tally.second = tally.best;
                tally.hasSecond = true;
            }
            (tally.winner, tally.best, tally.bestKey) = (bidder, amount, key);
        } else if (!tally.hasSecond || amount > tally.second) {
            tally.second = amount;
            tally.hasSecond = true;
        }
    }

    function _distribute(uint256 chainId, uint256 epoch, uint256 proceeds) private {
        uint256 burn = proceeds * burnBps / 10_000;
        uint256 toStakers = proceeds - burn;
        if (totalActiveStake == 0) {
            burn += toStakers;
            toStakers = 0;
        }
        if (toStakers > 0) proceedsPerStake += toStakers * SCALE / totalActiveStake;
        proceedsToStakers += toStakers;
        burnedProceeds += burn;
        emit ProceedsDistributed(chainId, epoch, toStakers, burn);
    }

    function _accruedScaled(address staker) private view returns (uint256) {
        Validator storage v = validators[staker];
        if (!v.active) return 0;
        return v.stake * (proceedsPerStake - proceedsDebt[staker]);
    }

    function _accrue(address staker) private {
        proceedsOwedScaled[staker] += _accruedScaled(staker);
        proceedsDebt[staker] = proceedsPerStake;
    }

    function _beforeStakeChange(address validator) internal override {
        _accrue(validator);
    }

    function _eligible(address account) private view returns (bool) {
        Validator storage v = validators[account];
        return v.active && !v.jailed && v.withdrawableAt == 0;
    }

    function _pick(uint256 chainId, uint256 epoch, uint256 skips) internal view override returns (address) {
        address winner = winnerOf(chainId, epoch);
        if (winner == address(0)) return super._pick(chainId, epoch, skips);
        if (skips == 0) return winner;
        address fallbackLeader = super._pick(chainId, epoch, skips - 1);
        return fallbackLeader == winner ? super._pick(chainId, epoch, skips) : fallbackLeader;
    }

    function _epochReason(uint256 chainId, uint256 epoch) internal view override returns (uint8) {
        return winnerOf(chainId, epoch) != address(0) ? SequencerChangeReason.AUCTION : SequencerChangeReason.ROTATION;
    }
}
