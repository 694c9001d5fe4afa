// SPDX-License-Identifier: GPL-3.0-or-later
/* The syscall floor of an audit: readdir over one directory and one getxattr per entry,
 * single-threaded, nothing else. Usage: floor_getxattr DIR ATTRNAME
 * Prints the number of files and of attribute bytes read. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR ATTRNAME\n", argv[0]);
    return 2;
  }
  DIR* dir = opendir(argv[1]);
  if (dir == NULL) {
    perror(argv[1]);
    return 3;
  }
  if (fchdir(dirfd(dir)) != 0) {
    perror("fchdir");
    return 3;
  }
  char buf[65536];
  unsigned long files = 0, bytes = 0;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = lgetxattr(e->d_name, argv[2], buf, sizeof buf);
    if (n > 0) bytes += (unsigned long)n;
    files++;
  }
  closedir(dir);
  printf("%lu files, %lu bytes\n", files, bytes);
  return 0;
}
