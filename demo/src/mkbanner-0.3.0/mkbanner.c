/* mkbanner writes a C header defining BANNER: a build-time tool, needed to
 * build hello but not to run it. */
#include <stdio.h>

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "lpm";
	printf("#define BANNER \"== %s ==\"\n", text);
	return 0;
}
