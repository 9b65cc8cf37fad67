/* libcap, used only in the parent (cap names, CAP_LAST_CAP); the child uses raw prctl/capset. */
#include <sys/capability.h>
