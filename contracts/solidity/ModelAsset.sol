// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ProvenanceAsset} from "./ProvenanceAsset.sol";
import {Activity, AnchorPhase, AssetKind, RecordProof} from "./ProvenanceTypes.sol";

/**
 * @title ModelAsset
 * @notice A model as a state machine through the seven lifecycle activities of the ProML paper
 * (ML2-1..7): Registered, DataSelected, Preprocessed, FeaturesEngineered, Trained, Evaluated, Validated,
 * Deployed, and Retired. Each step is allowed from the step before it, from itself, and from any later
 * state (retraining, re-evaluation); deployment needs a validation first; a retired model accepts
 * nothing but a rollback. Rollback returns to the state of an earlier accepted record; anchor records a
 * Merkle root before or after training. docs/contracts.md shows the full table.
 */
contract ModelAsset is ProvenanceAsset {
    /// @notice State: registered, nothing recorded since.
    uint8 public constant REGISTERED = 0;
    /// @notice State: training data selected (ML2-1).
    uint8 public constant DATA_SELECTED = 1;
    /// @notice State: selected data preprocessed (ML2-2).
    uint8 public constant PREPROCESSED = 2;
    /// @notice State: features engineered (ML2-3).
    uint8 public constant FEATURES_ENGINEERED = 3;
    /// @notice State: trained (ML2-4).
    uint8 public constant TRAINED = 4;
    /// @notice State: evaluated (ML2-5).
    uint8 public constant EVALUATED = 5;
    /// @notice State: validated by a VALIDATOR (ML2-6).
    uint8 public constant VALIDATED = 6;
    /// @notice State: deployed (ML2-7); needs a validation first.
    uint8 public constant DEPLOYED = 7;
    /// @notice State: out of service. Final, except for a rollback.
    uint8 public constant RETIRED = 8;

    /**
     * @notice Emitted with the rollback record.
     * @param seq The rollback record's sequence number.
     * @param toSeq The earlier record whose state the model returns to.
     * @param accepted Whether `toSeq` was a record the model can return to.
     * @param reason Why, in the words of the caller.
     */
    event RolledBack(uint256 seq, uint256 indexed toSeq, bool accepted, string reason);

    /**
     * @notice Emitted with an accepted anchor record.
     * @param seq The anchor record's sequence number.
     * @param phase Before or after training.
     * @param root The Merkle root of the tracker's tree.
     */
    event Anchored(uint256 seq, AnchorPhase indexed phase, bytes32 root);

    /// @dev `phase` is not an `AnchorPhase`.
    error UnknownAnchorPhase(uint8 phase);
    /// @dev `toSeq` is not an earlier record of this model.
    error SeqOutOfRange(uint256 toSeq, uint256 recordCount);
    /// @dev The proof needs exactly `expected` later record hashes.
    error WrongProofLength(uint256 given, uint256 expected);
    /// @dev The proof does not lead to the current head: it does not describe this model's history.
    error InvalidProof();

    /// @param registry_ The ProML registry that deploys this implementation and clones it.
    constructor(address registry_) ProvenanceAsset(registry_) {}

    /// @notice Records the selection of training data (inputs: dataset assets or digests).
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function selectData(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.SelectData, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records preprocessing of the selected data.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function preprocess(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Preprocess, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records feature engineering.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function engineerFeatures(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.EngineerFeatures, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records a training run (outputs: the weights' digest).
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function train(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Train, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records an evaluation (metrics live in the record document).
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function evaluate(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Evaluate, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records a validation. Needs the VALIDATOR role; owner or contributor status is not enough and not needed.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function validate(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Validate, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records a deployment. Allowed only from Validated or Deployed.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function deploy(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Deploy, recordDigest, recordCID, inputs, outputs);
    }

    /// @notice Records that the model is taken out of service. Final, except for a rollback.
    /// @param recordDigest Digest of the record document.
    /// @param recordCID CID of the record document.
    /// @param inputs Content digests of input files, or asset addresses as bytes32.
    /// @param outputs Content digests of output files, or asset addresses as bytes32.
    /// @return accepted Whether the transition was allowed from the current state.
    function retire(
        bytes32 recordDigest,
        bytes calldata recordCID,
        bytes32[] calldata inputs,
        bytes32[] calldata outputs
    ) external returns (bool accepted) {
        return _recordCallerActivity(Activity.Retire, recordDigest, recordCID, inputs, outputs);
    }

    /**
     * @notice Returns the model to the state that the earlier accepted record `proof.seq` entered, and
     * says why. Owner or contributor. The proof shows, against the current head, what that record was:
     * no history is kept in storage for this. If the record was not accepted, the rollback is kept with
     * `accepted = false`. The node builds the proof from the events (proml.contracts.hash_chain).
     * @param proof Record `proof.seq` and the hashes of the records after it.
     * @param reason Why (kept in the `RolledBack` event).
     * @param recordDigest Digest of the rollback's record document.
     * @param recordCID CID of the rollback's record document.
     * @return accepted Whether the model returned to that state.
     */
    function rollback(
        RecordProof calldata proof,
        string calldata reason,
        bytes32 recordDigest,
        bytes calldata recordCID
    ) external returns (bool accepted) {
        _authorizeCaller(Activity.Rollback);
        uint256 seq = recordCount();
        _checkProof(proof, seq);
        // The chain covers the target and the reason through the record's inputs.
        bytes32[] memory inputs = new bytes32[](2);
        inputs[0] = bytes32(proof.seq);
        inputs[1] = keccak256(bytes(reason));
        accepted = proof.accepted;
        _append(msg.sender, Activity.Rollback, proof.toState, accepted, recordDigest, recordCID, inputs, new bytes32[](0));
        emit RolledBack(seq, proof.seq, accepted, reason);
    }

    /**
     * @notice Anchors the Merkle root of the provenance tracker's tree (data, model, per-epoch nodes)
     * before or after training. The state does not change; a retired model refuses new anchors (the
     * attempt is kept with `accepted = false`). Owner or contributor.
     * @param root The Merkle root.
     * @param phase An `AnchorPhase`: 0 before training, 1 after.
     * @param recordDigest Digest of the anchor's record document.
     * @param recordCID CID of the anchor's record document.
     * @return accepted Whether the anchor was accepted.
     */
    function anchor(
        bytes32 root,
        uint8 phase,
        bytes32 recordDigest,
        bytes calldata recordCID
    ) external returns (bool accepted) {
        if (phase > uint8(type(AnchorPhase).max)) revert UnknownAnchorPhase(phase);
        _authorizeCaller(Activity.Anchor);
        uint256 seq = recordCount();
        uint8 current = state();
        accepted = current != RETIRED;
        // The chain covers the phase through the record's inputs, the root through its outputs.
        bytes32[] memory inputs = new bytes32[](1);
        inputs[0] = bytes32(uint256(phase));
        bytes32[] memory outputs = new bytes32[](1);
        outputs[0] = root;
        _append(msg.sender, Activity.Anchor, current, accepted, recordDigest, recordCID, inputs, outputs);
        if (accepted) emit Anchored(seq, AnchorPhase(phase), root);
    }

    /// @inheritdoc ProvenanceAsset
    function kind() external pure override returns (AssetKind) {
        return AssetKind.Model;
    }

    /// @inheritdoc ProvenanceAsset
    function _transition(
        Activity activity,
        uint8 fromState
    ) internal pure override returns (bool supported, bool allowed, uint8 toState) {
        uint256 allowedFrom;
        if (activity == Activity.SelectData) {
            (allowedFrom, toState) = (_fromOn(REGISTERED), DATA_SELECTED);
        } else if (activity == Activity.Preprocess) {
            (allowedFrom, toState) = (_fromOn(DATA_SELECTED), PREPROCESSED);
        } else if (activity == Activity.EngineerFeatures) {
            (allowedFrom, toState) = (_fromOn(PREPROCESSED), FEATURES_ENGINEERED);
        } else if (activity == Activity.Train) {
            (allowedFrom, toState) = (_fromOn(FEATURES_ENGINEERED), TRAINED);
        } else if (activity == Activity.Evaluate) {
            (allowedFrom, toState) = (_fromOn(TRAINED), EVALUATED);
        } else if (activity == Activity.Validate) {
            (allowedFrom, toState) = (_fromOn(EVALUATED), VALIDATED);
        } else if (activity == Activity.Deploy) {
            (allowedFrom, toState) = (_fromOn(VALIDATED), DEPLOYED);
        } else if (activity == Activity.Retire) {
            (allowedFrom, toState) = (_fromOn(REGISTERED), RETIRED);
        } else {
            return (false, false, fromState);
        }
        return (true, allowedFrom & (1 << fromState) != 0, toState);
    }

    /// @dev Bit set of the live states from `first` up to Deployed.
    function _fromOn(uint8 first) private pure returns (uint256) {
        return ((1 << (DEPLOYED + 1)) - 1) & ~((1 << first) - 1);
    }

    /// @dev Recomputes the head from record `proof.seq` and the later record hashes.
    function _checkProof(RecordProof calldata proof, uint256 count) private view {
        if (proof.seq >= count) revert SeqOutOfRange(proof.seq, count);
        uint256 later = count - 1 - proof.seq;
        if (proof.laterRecordHashes.length != later) revert WrongProofLength(proof.laterRecordHashes.length, later);
        bytes32 recordHash = _recordHash(
            proof.seq,
            proof.actor,
            proof.activity,
            proof.fromState,
            proof.toState,
            proof.accepted,
            proof.recordDigest,
            proof.recordCIDHash,
            proof.inputsHash,
            proof.outputsHash
        );
        bytes28 h = _nextHead(proof.prevHead, recordHash);
        for (uint256 i = 0; i < later; ++i) {
            h = _nextHead(h, proof.laterRecordHashes[i]);
        }
        if (h != head()) revert InvalidProof();
    }
}
