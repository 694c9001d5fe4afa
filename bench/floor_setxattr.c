// SPDX-License-Identifier: GPL-3.0-or-later
/* The syscall floor of a repair: readdir over one directory and one setxattr per entry with
 * a fixed value read from VALUEFILE. Usage: floor_setxattr DIR ATTRNAME VALUEFILE */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s DIR ATTRNAME VALUEFILE\n", argv[0]);
    return 2;
  }
  FILE* f = fopen(argv[3], "rb");
  if (f == NULL) {
    perror(argv[3]);
    return 3;
  }
  char value[65536];
  size_t len = fread(value, 1, sizeof value, f);
  fclose(f);
  DIR* dir = opendir(argv[1]);
  if (dir == NULL || fchdir(dirfd(dir)) != 0) {
    perror(argv[1]);
    return 3;
  }
  unsigned long files = 0;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (lsetxattr(e->d_name, argv[2], value, len, 0) != 0) {
      perror(e->d_name);
      return 3;
    }
    files++;
  }
  closedir(dir);
  printf("%lu files\n", files);
  return 0;
}
