volatile unsigned tohost;
int data_arr[4] = {1,2,3,4};
int bss_arr[16];
static int fib(int n) { return n < 2 ? n : fib(n-1) + fib(n-2); }
int main(void) { int s = 0; for (int i = 0; i < 4; i++) s += data_arr[i] * fib(i + 5) / (i + 1) % 7; bss_arr[3] = s; return s; }
void _start(void) { tohost = (main() << 1) | 1; for (;;) ; }
