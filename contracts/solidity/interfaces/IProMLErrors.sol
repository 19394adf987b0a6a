// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Activity} from "../ProvenanceTypes.sol";

/**
 * @title IProMLErrors
 * @notice The custom errors that the registry and the assets both revert with, declared once. Each
 * contract inherits them, so that they appear in its ABI and read the same wherever they come from.
 */
interface IProMLErrors {
    /// @dev `account` is not a consortium member.
    error NotAMember(address account);
    /// @dev `account` is a suspended consortium member: it can no longer act.
    error SuspendedMember(address account);
    /// @dev `account` lacks the role bits `role` that the call needs.
    error MissingRole(address account, uint8 role);
    /// @dev The zero address cannot be a member or a contributor.
    error ZeroAddress();
    /// @dev The asset's kind has no such activity, or the activity cannot be recorded this way.
    error UnsupportedActivity(Activity activity);
}
