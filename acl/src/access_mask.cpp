// SPDX-License-Identifier: GPL-3.0-or-later
#include "mkeys/acl/access_mask.hpp"

#include <fmt/format.h>

namespace mkeys::acl {

AccessMask MapGeneric(AccessMask mask, const GenericMapping& mapping) {
  AccessMask out = mask & ~(rights::kGenericRead | rights::kGenericWrite | rights::kGenericExecute |
                            rights::kGenericAll);
  if ((mask & rights::kGenericRead) != 0) out |= mapping.read;
  if ((mask & rights::kGenericWrite) != 0) out |= mapping.write;
  if ((mask & rights::kGenericExecute) != 0) out |= mapping.execute;
  if ((mask & rights::kGenericAll) != 0) out |= mapping.all;
  return out;
}

std::string RightName(AccessMask bit) {
  switch (bit) {
    case rights::kReadData:
      return "READ_DATA";
    case rights::kWriteData:
      return "WRITE_DATA";
    case rights::kAppendData:
      return "APPEND_DATA";
    case rights::kReadEa:
      return "READ_EA";
    case rights::kWriteEa:
      return "WRITE_EA";
    case rights::kExecute:
      return "EXECUTE";
    case rights::kDeleteChild:
      return "DELETE_CHILD";
    case rights::kReadAttributes:
      return "READ_ATTRIBUTES";
    case rights::kWriteAttributes:
      return "WRITE_ATTRIBUTES";
    case rights::kDelete:
      return "DELETE";
    case rights::kReadControl:
      return "READ_CONTROL";
    case rights::kWriteDac:
      return "WRITE_DAC";
    case rights::kWriteOwner:
      return "WRITE_OWNER";
    case rights::kSynchronize:
      return "SYNCHRONIZE";
    case rights::kAccessSystemSecurity:
      return "ACCESS_SYSTEM_SECURITY";
    case rights::kMaximumAllowed:
      return "MAXIMUM_ALLOWED";
    case rights::kGenericAll:
      return "GENERIC_ALL";
    case rights::kGenericExecute:
      return "GENERIC_EXECUTE";
    case rights::kGenericWrite:
      return "GENERIC_WRITE";
    case rights::kGenericRead:
      return "GENERIC_READ";
    default:
      return fmt::format("0x{:x}", bit);
  }
}

std::vector<std::string> RightNames(AccessMask mask) {
  std::vector<std::string> names;
  for (int i = 0; i < 32; ++i) {
    const AccessMask bit = AccessMask{1} << i;
    if ((mask & bit) != 0) names.push_back(RightName(bit));
  }
  return names;
}

}  // namespace mkeys::acl
