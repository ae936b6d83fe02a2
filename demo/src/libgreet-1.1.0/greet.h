#ifndef GREET_H
#define GREET_H
#define GREET_VERSION "1.1.0"
const char *greet_message(void);
int greet(const char *who);
int greet_times(const char *who, int n);
#endif
