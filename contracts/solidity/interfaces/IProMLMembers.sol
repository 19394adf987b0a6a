// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MemberStatus} from "../ProvenanceTypes.sol";

/// @title The part of the ProML registry that asset contracts consult.
interface IProMLMembers {
    /// @notice Status and role bits of `account` in the consortium.
    function memberStatus(address account) external view returns (MemberStatus status, uint8 roles);
}
