"""A bank's batch file of N valid rows (the sample's columns), for tests from outside:
python3 batch_file.py N OUT.csv [ROW]: with ROW, that row's debtor name differs (a fixed file,
so a new default request id)."""
import sys
n=int(sys.argv[1]); out=sys.argv[2]; fix=int(sys.argv[3]) if len(sys.argv)>3 else -1
W=[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]; C="10X98765432"
def idn(i):
    y=1960+(i//336)%40; m=1+(i//28)%12; d=1+i%28
    f=f"230722{y:04}{m:02}{d:02}{i%1000:03}"
    return f+C[sum(int(a)*b for a,b in zip(f,W))%11]
with open(out,'w') as o:
    o.write("银行案件编号,产品类型,债务人类型,姓名,身份证号,手机号,住址,行政区划代码,借款金额,本金,利息,罚息,费用,合同编号\n")
    for i in range(n):
        name = "王芳" if i!=fix else "王芳芳"
        o.write(f"CR-{i:07},信用卡,自然人,{name},{idn(i)},139{i:08},黑龙江省伊春市嘉荫县朝阳镇1号,230722,0.00,{10000+i%5000}.00,100.00,0.00,0.00,HT{i:08}\n")
