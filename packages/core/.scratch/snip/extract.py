import re,sys
doc=open('/work/main/docs/embedding.md').read()
blocks=re.findall(r'```js\n([\s\S]*?)```',doc)
names={'net.createServer((socket) => {':'tcp','tls.createServer':'tls','WebSocketServer':'ws','duplexPair()':'memory'}
ports={'tcp':'21883','tls':'28883','ws':'28083'}
for b in blocks:
    for k,n in names.items():
        if k in b and 'createBroker()' in b and 'await broker.ready()' in b:
            if n in ports:
                b=re.sub(r'\.listen\((\d+), ', ".listen(%s, '127.0.0.1', " % ports[n], b)
            open(n+'.mjs','w').write(b)
            print('wrote',n)
