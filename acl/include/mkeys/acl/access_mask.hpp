// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// MS-DTYP 2.4.3: ACCESS_MASK, the file-specific rights and the file generic mapping.

#include <cstdint>
#include <string>
#include <vector>

namespace mkeys::acl {

using AccessMask = std::uint32_t;

namespace rights {
// File and directory specific rights (winnt.h).
inline constexpr AccessMask kReadData = 0x0001;         // FILE_READ_DATA / FILE_LIST_DIRECTORY
inline constexpr AccessMask kWriteData = 0x0002;        // FILE_WRITE_DATA / FILE_ADD_FILE
inline constexpr AccessMask kAppendData = 0x0004;       // FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY
inline constexpr AccessMask kReadEa = 0x0008;           // FILE_READ_EA
inline constexpr AccessMask kWriteEa = 0x0010;          // FILE_WRITE_EA
inline constexpr AccessMask kExecute = 0x0020;          // FILE_EXECUTE / FILE_TRAVERSE
inline constexpr AccessMask kDeleteChild = 0x0040;      // FILE_DELETE_CHILD
inline constexpr AccessMask kReadAttributes = 0x0080;   // FILE_READ_ATTRIBUTES
inline constexpr AccessMask kWriteAttributes = 0x0100;  // FILE_WRITE_ATTRIBUTES
inline constexpr AccessMask kListDirectory = kReadData;
inline constexpr AccessMask kAddFile = kWriteData;
inline constexpr AccessMask kAddSubdirectory = kAppendData;
inline constexpr AccessMask kTraverse = kExecute;
// Standard rights.
inline constexpr AccessMask kDelete = 0x00010000;
inline constexpr AccessMask kReadControl = 0x00020000;
inline constexpr AccessMask kWriteDac = 0x00040000;
inline constexpr AccessMask kWriteOwner = 0x00080000;
inline constexpr AccessMask kSynchronize = 0x00100000;
inline constexpr AccessMask kStandardRightsRequired = 0x000F0000;
inline constexpr AccessMask kAccessSystemSecurity = 0x01000000;
inline constexpr AccessMask kMaximumAllowed = 0x02000000;
// Generic rights.
inline constexpr AccessMask kGenericAll = 0x10000000;
inline constexpr AccessMask kGenericExecute = 0x20000000;
inline constexpr AccessMask kGenericWrite = 0x40000000;
inline constexpr AccessMask kGenericRead = 0x80000000;
// Composite file rights (winnt.h FILE_GENERIC_* and FILE_ALL_ACCESS).
inline constexpr AccessMask kFileGenericRead = 0x00120089;
inline constexpr AccessMask kFileGenericWrite = 0x00120116;
inline constexpr AccessMask kFileGenericExecute = 0x001200A0;
inline constexpr AccessMask kFileAllAccess = 0x001F01FF;
}  // namespace rights

struct GenericMapping {
  AccessMask read;
  AccessMask write;
  AccessMask execute;
  AccessMask all;
};

inline constexpr GenericMapping kFileGenericMapping = {
    rights::kFileGenericRead, rights::kFileGenericWrite, rights::kFileGenericExecute,
    rights::kFileAllAccess};

// Replaces the generic bits of `mask` by what `mapping` maps them to.
AccessMask MapGeneric(AccessMask mask, const GenericMapping& mapping = kFileGenericMapping);

// True when every bit of `wanted` is in `mask` ((mask & wanted) == wanted; never != 0).
constexpr bool HasAll(AccessMask mask, AccessMask wanted) {
  return (mask & wanted) == wanted;
}

// The names of the rights set in `mask`, one per bit, in bit order: "READ_DATA",
// "WRITE_DATA", ..., "DELETE", "READ_CONTROL", "WRITE_DAC", "WRITE_OWNER", "SYNCHRONIZE",
// "ACCESS_SYSTEM_SECURITY", "MAXIMUM_ALLOWED", "GENERIC_ALL", ...; unknown bits as "0x...".
std::vector<std::string> RightNames(AccessMask mask);
// The name of one right bit ("READ_DATA"), as above.
std::string RightName(AccessMask bit);

}  // namespace mkeys::acl
