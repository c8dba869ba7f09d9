import { describe, expect, it } from 'vitest'
import { jarStem, runsJarLike } from '../../src/deploy/same-service.js'

describe('jarStem', () => {
  it.each([
    ['shop-api-1.0.0.jar', 'shop-api'],
    ['shop-api-0.9.3-SNAPSHOT.jar', 'shop-api'],
    ['shop_api_2.1.jar', 'shop_api'],
    ['app.jar', 'app'],
    ['sample-v2.jar', 'sample'],
    ['web2-1.0.jar', 'web2'],
  ])('%s -> %s', (name, stem) => {
    expect(jarStem(name)).toBe(stem)
  })
})

describe('runsJarLike', () => {
  const artifact = 'shop-api-1.0.0.jar'
  it('takes a JVM that runs an older version of the jar', () => {
    expect(runsJarLike('java -Xmx512m -jar /home/app/shop-api-0.9.3.jar --server.port=8082', artifact)).toBe(true)
    expect(runsJarLike('/usr/lib/jvm/java-17/bin/java -jar shop-api-1.0.0.jar', artifact)).toBe(true)
  })
  it('never takes another program, or a JVM of another jar', () => {
    expect(runsJarLike('python3 -m http.server 8082', artifact)).toBe(false)
    expect(runsJarLike('java -jar /opt/jenkins/jenkins.war --httpPort=8080', artifact)).toBe(false)
    expect(runsJarLike('java -jar /opt/other/billing-1.0.0.jar', artifact)).toBe(false)
    expect(runsJarLike('java -jar /opt/shop-api-admin-1.0.0.jar', artifact)).toBe(false)
    expect(runsJarLike('sh -c java -jar shop-api-0.9.jar', artifact)).toBe(false)
    expect(runsJarLike('', artifact)).toBe(false)
  })
})
