// Build: clang -O3 -march=native -ffp-contract=fast scripts/layout/nchw_depthwise.c -o /tmp/nchw_dw && /tmp/nchw_dw
// Compare with the NHWC kernel: .build/release/vitbench kernels (README, "Activation layout").
// NCHW depthwise 3x3/7x7 (pad k/2) with the vector loop over x, for the layout decision.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static void dw(const float*x,const float*w,float*y,int C,int H,int W,int k){
  int p=k/2;
  for(int c=0;c<C;c++){const float*xc=x+c*H*W;float*yc=y+c*H*W;const float*wc=w+c*k*k;
    for(int oy=0;oy<H;oy++){float*yr=yc+oy*W; for(int ox=0;ox<W;ox++) yr[ox]=0;
      for(int ky=0;ky<k;ky++){int iy=oy+ky-p; if(iy<0||iy>=H) continue; const float*xr=xc+iy*W;
        for(int kx=0;kx<k;kx++){float wv=wc[ky*k+kx]; int lo=p-kx>0?p-kx:0; int hi=W+p-kx<W?W+p-kx:W;
          for(int ox=lo;ox<hi;ox++) yr[ox]+=wv*xr[ox+kx-p];}}}}}
int main(){int shapes[4][2]={{48,64},{96,32},{192,16},{384,8}};
 for(int s=0;s<4;s++)for(int k=3;k<=7;k+=4){int C=shapes[s][0],H=shapes[s][1];
  float*x=malloc(4*C*H*H),*y=malloc(4*C*H*H),*w=malloc(4*C*k*k);for(int i=0;i<C*H*H;i++)x[i]=rand()/(float)RAND_MAX;for(int i=0;i<C*k*k;i++)w[i]=0.1f;
  for(int r=0;r<5;r++)dw(x,w,y,C,H,H,k); int n=200; double t=now(); for(int r=0;r<n;r++)dw(x,w,y,C,H,H,k); t=(now()-t)/n;
  printf("NCHW depthwise %dx%d %dx%dx%d: %.4f ms\n",k,k,H,H,C,t*1e3);}}
