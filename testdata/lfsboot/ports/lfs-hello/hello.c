#include <stdio.h>
#include <sys/utsname.h>

int main(void)
{
	struct utsname u;
	if (uname(&u) != 0)
		return 1;
	printf("hello from lfs-hello on %s %s\n", u.sysname, u.release);
	return 0;
}
