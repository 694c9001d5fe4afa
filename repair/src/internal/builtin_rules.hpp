// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The built-in rules: one line each. A rule is a file in repair/src/rules/ that defines
// `const RuleDefinition& rules::<Name>()`; listing its name here registers it (the list is an
// explicit reference to every rule, so the static library's linker keeps each rule's object file).
//
// The order is the order checks run and findings are reported in (Rules() is ordered by code
// whatever this order): per key file the name and contents, then the descriptor, then the
// services; per directory MK016, MK007, MK005, then MachineKeys' own (MK001-MK003).

#define MKEYS_BUILTIN_RULES(X)            \
  X(ForeignMachineGuid)       /* MK008 */ \
  X(NameHashMismatch)         /* MK009 */ \
  X(CorruptContainer)         /* MK010 */ \
  X(NotAContainerName)        /* MK017 */ \
  X(DescriptorUnreadable)     /* MK016 */ \
  X(KeyFileTooOpen)           /* MK012 */ \
  X(InheritedAcesOnKeyFile)   /* MK011 */ \
  X(NonCanonicalOrder)        /* MK007 */ \
  X(UnexpectedOwner)          /* MK006 */ \
  X(DenyHitsService)          /* MK005 */ \
  X(ServiceCannotRead)        /* MK004 */ \
  X(FolderEveryoneMissing)    /* MK001 */ \
  X(FolderDiffersFromDefault) /* MK002 */ \
  X(FolderProtectionLost)     /* MK003 */ \
  X(TraverseDenied)           /* MK013 */ \
  X(ChangeNotifyRemoved)      /* MK014 */ \
  X(TooManyContainers)        /* MK015 */ \
  X(ObjectUnreadable)         /* MK030 */ \
  X(SymlinkInStore)           /* MK031 */ \
  X(UnexpectedStoreEntry)     /* MK032 */ \
  X(HardLinkedKeyFile)        /* MK033 */ \
  X(CertificateKeyMissing)    /* MK040 */ \
  X(OrphanedKeyFile)          /* MK041 */ \
  X(CertificateKeyTooOpen)    /* MK042 */ \
  X(ServiceCannotReadCertKey) /* MK043 */
