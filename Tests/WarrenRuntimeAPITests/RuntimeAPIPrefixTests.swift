import Testing
import WarrenRuntimeAPI

@Test func theRuntimeAPIPathPrefixIsTheLambdaOne() {
    #expect(RuntimeAPI.prefix == "/2018-06-01")
}
