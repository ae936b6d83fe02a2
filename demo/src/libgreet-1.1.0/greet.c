#include <stdio.h>
#include "greet.h"

const char *greet_message(void) { return "Hello there"; }

int greet(const char *who)
{
	return printf("%s, %s! (libgreet %s)\n", greet_message(), who, GREET_VERSION) < 0;
}

int greet_times(const char *who, int n) { int r = 0; while (n-- > 0) r |= greet(who); return r; }
