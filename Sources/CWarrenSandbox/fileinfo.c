/* File facts Swift's Glibc module does not reach (statx is behind _GNU_SOURCE). Not used
 * between clone and execve. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>

#include "wrn_spawn.h"

long long wrn_file_birth_ns(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) != 0)
        return 0;
    if (!(stx.stx_mask & STATX_BTIME))
        return 0;
    return (long long)stx.stx_btime.tv_sec * 1000000000LL + (long long)stx.stx_btime.tv_nsec;
}
