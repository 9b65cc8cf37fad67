/* libseccomp, used only by WarrenSandbox to compile policies to BPF in the parent. */
#include <seccomp.h>
