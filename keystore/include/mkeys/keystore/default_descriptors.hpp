// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The descriptors a default Windows Server installation gives the directories above and at the
// machine key store, as SDDL (see docs/machine-root.md for the sources of each).

#include <array>
#include <string_view>

namespace mkeys::keystore {

// C:\ProgramData. Get-Acl .Sddl on Windows Server 2025 / Windows 11 26H2 as recorded in public
// scripts that check ancestors of ProgramData (e.g. installers asserting the stock ACL):
// SYSTEM and Administrators full control, CREATOR OWNER full control inherit-only, Users read &
// execute, and Users (CI)(WD,AD,WEA,WA) so that users may create subdirectories.
inline constexpr std::string_view kProgramDataSddl =
    "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
    "(A;CI;DCLCRPCR;;;BU)";

// C:\ProgramData\Microsoft, ...\Crypto and ...\Crypto\RSA are not protected: they carry what
// ProgramData passes on to a subdirectory (MS-DTYP 2.5.3.4.2): every ACE marked inherited (ID),
// the CI-only Users ACE still inheritable to subdirectories. Derived, not read from a live
// installation. Users keep READ_DATA|EXECUTE, so traversal works without
// SeChangeNotifyPrivilege for every identity in Users (services included, via Authenticated
// Users).
inline constexpr std::string_view kInheritedFromProgramDataSddl =
    "O:SYG:SYD:AI(A;OICIIOID;GA;;;CO)(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)"
    "(A;CIID;DCLCRPCR;;;BU)";
inline constexpr std::string_view kMicrosoftSddl = kInheritedFromProgramDataSddl;
inline constexpr std::string_view kCryptoSddl = kInheritedFromProgramDataSddl;
inline constexpr std::string_view kRsaSddl = kInheritedFromProgramDataSddl;

// ...\Crypto\RSA\MachineKeys (KB 278381; the SDDL Azure's VM-agent health check and public
// restore scripts use; docs/formats.md): protected; Everyone 0x12019f this folder only (list, read,
// create files, ...); Administrators full control this folder only. Nothing is inherited by the
// key files: the CSP writes each file's DACL explicitly (KB 238187).
inline constexpr std::string_view kMachineKeysSddl = "O:SYG:SYD:PAI(A;;0x12019f;;;WD)(A;;FA;;;BA)";

// The store's directory chain, relative to the root, outermost first, with their defaults.
struct DefaultDirectory {
  std::string_view relative_path;
  std::string_view sddl;
};
inline constexpr std::array<DefaultDirectory, 5> kDefaultDirectories = {{
    {"ProgramData", kProgramDataSddl},
    {"ProgramData/Microsoft", kMicrosoftSddl},
    {"ProgramData/Microsoft/Crypto", kCryptoSddl},
    {"ProgramData/Microsoft/Crypto/RSA", kRsaSddl},
    {"ProgramData/Microsoft/Crypto/RSA/MachineKeys", kMachineKeysSddl},
}};

inline constexpr std::string_view kMachineKeysRelative =
    "ProgramData/Microsoft/Crypto/RSA/MachineKeys";

}  // namespace mkeys::keystore
