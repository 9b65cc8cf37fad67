/*
 * true: the cold-start benchmark payload. It does nothing, so a measurement
 * of "spawn, confine, exec, exit, reap" is the sandbox's own cost plus one
 * exec of a static binary, with no dynamic loader and no runtime start-up.
 * Built static (StaticBinaries plugin) so it runs in any rootfs.
 */
int main(void) {
    return 0;
}
