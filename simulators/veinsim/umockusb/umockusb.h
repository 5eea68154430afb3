#include <stdint.h>

struct vs_dev;
int vs_testbed(char **root, char **errmsg);
struct vs_dev *vs_attach(uintptr_t handle, const char *descr, const char *devnode, char **errmsg);
void vs_free(char *p);
void vs_remove_testbed(void);
