#!/usr/bin/env python3
"""The multilingual set: the 15 example incidents written in English, Spanish and Chinese, and a
symptom query for each in each language (45 queries), as a team would write them.

    python bench/queries/multilingual/build.py     # writes corpus.jsonl and queries-test.jsonl here

Two ways to measure it with bench/retrieval.py (``--data-dir bench/queries``):

* ``multilingual``: the corpus holds all 45 write-ups; a query finds its incident in any language
  (each query's relevant documents are the incident's three write-ups).
* ``multilingual-en``: the corpus holds the English write-ups only; a Spanish or Chinese query must
  find the English one (cross-lingual), the English queries are the control.

The texts were written for this benchmark (no source to credit); the English ones are
examples/incidents.jsonl.
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[2] / "examples" / "incidents.jsonl"

# id: (Spanish title, Spanish body, Chinese title, Chinese body)
WRITEUPS = {
    "INC-456": ("payments-api-timeout: las solicitudes de pago agotan el tiempo de espera",
                "Las solicitudes de checkout a payments-api agotaron el tiempo de espera y devolvieron 504/500 durante 35 minutos. "
                "Causa raíz: agotamiento del pool de conexiones de la base de datos; una consulta de conciliación lenta retenía las conexiones. "
                "Solución: aumentamos el pool de 50 a 100 y reiniciamos los pods.",
                "payments-api-timeout：结账请求超时",
                "结账请求调用 payments-api 超时，35 分钟内返回 504/500。根本原因：数据库连接池耗尽，一个缓慢的对账查询占用了连接。"
                "解决：将连接池从 50 增加到 100，并重启了 payments-api 的 Pod。"),
    "INC-234": ("payments-api-errors: errores 500 en la autorización de tarjetas",
                "payments-api devolvió HTTP 500 en las llamadas de autorización de tarjetas; la tasa de errores llegó al 18%. "
                "Causa raíz: la caché de Redis expiró, las claves de configuración de comercios caducaron juntas a medianoche. "
                "Solución: ampliamos el TTL de las claves críticas y añadimos variación aleatoria a las expiraciones.",
                "payments-api-errors：银行卡授权返回 500",
                "payments-api 在银行卡授权调用上返回 HTTP 500，错误率最高达到 18%。根本原因：Redis 缓存过期，商户配置的键在午夜同时过期。"
                "解决：延长关键键的 TTL，并给过期时间加上随机抖动。"),
    "INC-198": ("auth-service-latency: el p99 del inicio de sesión llega a 2 s",
                "La latencia p99 del inicio de sesión subió a 2 s en el pico de la mañana. Causa raíz: limitación de CPU (throttling) "
                "en los pods de auth tras un cambio de límite en el chart de Helm. Solución: reiniciamos los pods con el límite anterior.",
                "auth-service-latency：登录 p99 达到 2 秒",
                "早高峰期间登录延迟 p99 升至 2 秒。根本原因：Helm chart 修改限制后，auth 的 Pod 出现 CPU 限流。解决：用之前的 CPU 限制重启 Pod。"),
    "INC-512": ("orders-api devuelve 503 después del despliegue",
                "El despliegue de orders-api v4.2.0 provocó errores 503 en el ingress durante 12 minutos. Causa raíz: la sonda de "
                "disponibilidad apuntaba a una ruta eliminada, los pods nuevos nunca estuvieron listos. Solución: volvimos a v4.1.9 y corregimos la ruta de la sonda.",
                "orders-api 部署后返回 503",
                "orders-api v4.2.0 发布导致 ingress 返回 503，持续 12 分钟。根本原因：就绪探针指向一个已删除的路径，新 Pod 一直没有就绪。"
                "解决：回滚到 v4.1.9，修复探针路径后重新部署。"),
    "INC-377": ("logs-storage-03 disco lleno",
                "La ingesta de logs se detuvo; logs-storage-03 con el disco al 100%. Causa raíz: el trabajo de retención falló en silencio "
                "durante 6 días tras una rotación de credenciales. Solución: ampliamos el disco y arreglamos las credenciales del trabajo.",
                "logs-storage-03 磁盘已满",
                "日志写入停止；logs-storage-03 磁盘使用率 100%。根本原因：凭据轮换后，日志保留任务静默失败了 6 天。解决：扩容磁盘，修复保留任务的凭据。"),
    "INC-401": ("cache-cluster con presión de memoria y desalojos",
                "El cache-cluster de Redis desalojaba claves a gran ritmo; la tasa de aciertos bajó del 95% al 60%. Causa raíz: una función "
                "nueva guardaba sesiones completas de usuario (200 KB cada una) en la caché compartida. Solución: movimos las sesiones a un clúster dedicado.",
                "cache-cluster 内存压力与键驱逐",
                "Redis cache-cluster 大量驱逐键，命中率从 95% 降到 60%。根本原因：新功能把完整的用户会话（每个 200 KB）存进了共享缓存。解决：把会话迁移到专用集群。"),
    "INC-289": ("payments-api 500: conexión rechazada a ledger-db",
                "Todas las escrituras de pagos fallaron con 500; los logs muestran conexión rechazada al primario de ledger-db. Causa raíz: "
                "el postgres primario cambió durante el mantenimiento y la cadena de conexión fijaba el host antiguo. Solución: apuntamos a pgbouncer.",
                "payments-api 500：连接 ledger-db 被拒绝",
                "所有支付写入都以 500 失败；日志显示连接 ledger-db 主库被拒绝。根本原因：维护期间 postgres 主库切换，但连接串固定了旧主机。解决：改用 pgbouncer 服务名。"),
    "INC-150": ("search-api consultas lentas tras reconstruir el índice",
                "La latencia de búsqueda se multiplicó por 5 tras la reconstrucción nocturna del índice de Elasticsearch. Causa raíz: el índice "
                "se creó con 1 réplica y el intervalo de refresco por defecto. Solución: restauramos las réplicas y el intervalo.",
                "search-api 重建索引后查询变慢",
                "夜间重建 Elasticsearch 索引后，搜索延迟变为原来的 5 倍。根本原因：新索引只有 1 个副本，刷新间隔为默认值。解决：恢复副本数和刷新间隔。"),
    "INC-333": ("checkout-web página en blanco para usuarios de Safari",
                "Los usuarios de Safari veían la página de pago en blanco. Causa raíz: un bundle de JS usaba una expresión regular con "
                "lookbehind que Safari antiguo no soporta. Solución: transpilamos la expresión y añadimos Safari a las pruebas.",
                "checkout-web 在 Safari 上显示空白页",
                "Safari 用户看到空白的结账页面。根本原因：一个 JS 包使用了旧版 Safari 不支持的正则后行断言。解决：转译该正则，并把 Safari 加入浏览器测试。"),
    "INC-610": ("notification-worker cola acumulada",
                "Las notificaciones por correo se retrasaron 2 horas; la cola de RabbitMQ llegó a 400k mensajes. Causa raíz: los pods del "
                "worker morían por falta de memoria (OOMKilled) tras un cambio de plantilla. Solución: subimos el límite de memoria.",
                "notification-worker 队列积压",
                "邮件通知延迟 2 小时；RabbitMQ 队列积压到 40 万条消息。根本原因：模板修改后每条消息的内存翻倍，worker 的 Pod 因内存不足被 OOMKilled。解决：提高内存限制。"),
    "INC-277": ("api-gateway certificado TLS caducado",
                "Todas las llamadas a la API pública fallaron en el handshake TLS durante 40 minutos. Causa raíz: la renovación de "
                "cert-manager falló porque las credenciales del solucionador DNS01 habían rotado. Solución: renovamos el certificado a mano.",
                "api-gateway TLS 证书过期",
                "所有公共 API 调用的 TLS 握手失败，持续 40 分钟。根本原因：DNS01 验证器的凭据被轮换，cert-manager 续期失败。解决：手动续期证书，并添加过期告警。"),
    "INC-498": ("payments-api alta latencia por un vecino ruidoso",
                "La latencia p95 de payments-api se duplicó durante una hora. Causa raíz: un trabajo de analítica por lotes en los mismos "
                "nodos saturó el ancho de banda de red. Solución: antiafinidad de pods y un grupo de nodos dedicado para el trabajo.",
                "payments-api 因吵闹邻居延迟升高",
                "payments-api 的 p95 延迟翻倍，持续一小时。根本原因：批量分析任务调度到同一批节点，占满了网络带宽。解决：添加 Pod 反亲和性，把任务移到专用节点池。"),
    "INC-122": ("user-profile-api 500: timeout del pool en SQLAlchemy",
                "user-profile-api devolvió 500 con 'QueuePool limit of size 20 overflow 10 reached, connection timed out'. Causa raíz: "
                "fuga de conexiones, una ruta de excepción no devolvía las sesiones al pool. Solución: gestor de contexto para las sesiones.",
                "user-profile-api 500：SQLAlchemy 连接池超时",
                "user-profile-api 返回 500，报错 'QueuePool limit of size 20 overflow 10 reached, connection timed out'。根本原因：连接泄漏，异常路径没有把会话还给连接池。解决：用上下文管理器处理会话。"),
    "INC-365": ("inventory-sync actualizaciones de stock duplicadas",
                "El stock de 300 SKU se descontó dos veces. Causa raíz: los rebalanceos del consumidor de Kafka volvieron a entregar "
                "mensajes y el manejador no era idempotente. Solución: manejador idempotente con un id de actualización.",
                "inventory-sync 库存重复更新",
                "300 个 SKU 的库存被重复扣减。根本原因：Kafka 消费者重平衡导致消息被重复投递，而处理程序不是幂等的。解决：用更新 id 让处理程序幂等。"),
    "INC-588": ("fallos de resolución DNS en el clúster",
                "Errores intermitentes 'no such host' en varios servicios durante 20 minutos. Causa raíz: los pods de CoreDNS llegaron "
                "a su límite de CPU tras un pico de consultas externas (ndots:5). Solución: escalamos CoreDNS y pusimos ndots:2.",
                "集群内 DNS 解析失败",
                "20 分钟内多个服务间歇性出现 'no such host' 错误。根本原因：外部查询激增（ndots:5），CoreDNS 的 Pod 达到 CPU 上限。解决：扩容 CoreDNS，设置 ndots:2。"),
}

# id: (English query, Spanish query, Chinese query): symptoms as a responder would type them
QUERIES = {
    "INC-456": ("checkout requests time out, database connections used up",
                "las solicitudes de pago agotan el tiempo, no quedan conexiones a la base de datos",
                "数据库连接池"),
    "INC-234": ("card authorisation failing with 500 after cache keys expired",
                "la autorización de tarjetas falla con 500 después de que caducaron las claves de caché",
                "缓存过期后银行卡授权失败"),
    "INC-198": ("login slow in the morning, CPU throttled on auth pods",
                "el inicio de sesión va lento por la mañana, la CPU está limitada",
                "登录很慢，CPU 被限流"),
    "INC-512": ("new release stuck, pods never ready, 503 from ingress",
                "tras el despliegue los pods nunca están listos y el ingress da 503",
                "发布后 Pod 一直不就绪，返回 503"),
    "INC-377": ("log storage node out of disk space",
                "el nodo de almacenamiento de logs se quedó sin espacio en disco",
                "日志存储磁盘满了"),
    "INC-401": ("redis evicting keys, cache hit ratio dropping",
                "redis está desalojando claves y baja la tasa de aciertos de la caché",
                "Redis 驱逐键，缓存命中率下降"),
    "INC-289": ("payment writes fail: connection refused to the postgres primary",
                "fallan las escrituras de pagos: conexión rechazada al primario de postgres",
                "支付写入失败，连接数据库主库被拒绝"),
    "INC-150": ("search got slow after rebuilding the elasticsearch index",
                "la búsqueda va lenta después de reconstruir el índice de elasticsearch",
                "重建索引后搜索变慢"),
    "INC-333": ("blank checkout page in safari",
                "página de pago en blanco en safari",
                "Safari 结账页面空白"),
    "INC-610": ("email notifications delayed, queue backlog, workers OOMKilled",
                "notificaciones de correo retrasadas, cola acumulada, workers sin memoria",
                "邮件通知延迟，队列积压"),
    "INC-277": ("TLS handshake failures, certificate expired on the gateway",
                "fallos de handshake TLS, el certificado del gateway caducó",
                "网关证书过期，TLS 握手失败"),
    "INC-498": ("latency doubled because a batch job shares the nodes",
                "la latencia se duplicó porque un trabajo por lotes comparte los nodos",
                "批量任务占满网络，延迟翻倍"),
    "INC-122": ("sqlalchemy pool timeout, sessions leaking",
                "timeout del pool de sqlalchemy, fuga de sesiones",
                "连接泄漏导致连接池超时"),
    "INC-365": ("stock decremented twice after kafka rebalance",
                "el stock se descuenta dos veces tras un rebalanceo de kafka",
                "Kafka 重平衡后库存被重复扣减"),
    "INC-588": ("intermittent no such host errors, coredns at its cpu limit",
                "errores intermitentes de resolución dns, coredns al límite de cpu",
                "集群 DNS 解析间歇失败"),
}


def main() -> None:
    english = {d["id"]: d for d in (json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip())}
    mixed, en_only, queries_mixed, queries_en = [], [], [], []
    for iid, (es_t, es_b, zh_t, zh_b) in WRITEUPS.items():
        e = english[iid]
        base = {"created": e["created"], "service": e.get("service")}
        en_doc = {"id": f"{iid}-en", "title": e["title"],
                  "body": f"{e['summary']} Root cause: {e['root_cause']} Resolution: {e['resolution']}", **base}
        mixed += [en_doc, {"id": f"{iid}-es", "title": es_t, "body": es_b, **base},
                  {"id": f"{iid}-zh", "title": zh_t, "body": zh_b, **base}]
        en_only.append(en_doc)
        for lang, text in zip(("en", "es", "zh"), QUERIES[iid], strict=True):
            queries_mixed.append({"qid": f"{iid}-q-{lang}", "text": text, "group": lang,
                                  "relevant": [f"{iid}-en", f"{iid}-es", f"{iid}-zh"]})
            queries_en.append({"qid": f"{iid}-q-{lang}", "text": text, "group": lang, "relevant": [f"{iid}-en"]})
    meta = {"dataset": "multilingual", "source": "bench/queries/multilingual/build.py", "license": "written for PAII",
            "task": "a symptom in English, Spanish or Chinese finds the incident (any language / its English write-up)"}
    for name, corpus, queries in (("multilingual", mixed, queries_mixed), ("multilingual-en", en_only, queries_en)):
        out = HERE.parent / name
        out.mkdir(exist_ok=True)
        (out / "corpus.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus), encoding="utf-8")
        (out / "queries-test.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries), encoding="utf-8")
        (out / "meta.json").write_text(json.dumps(meta | {"dataset": name, "sizes": {"corpus": len(corpus), "queries": len(queries)}},
                                                  indent=2) + "\n")
    print(f"{len(mixed)} write-ups, {len(queries_mixed)} queries")


if __name__ == "__main__":
    main()
