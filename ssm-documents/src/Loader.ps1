# Loads the beacon module: src/module/*.ps1 and WindowsLayer.ps1 in one file, too large to sit in this
# document next to its parameters (64 KB limit), so the document's first step (aws:downloadContent) fetched it
# from the stack's module bucket, where it is stored under its SHA-256. This document pins that SHA-256
# ($BpModule above). The file is read once into memory, hashed, and the very bytes that were hashed are what
# runs. A module that is missing or differs runs nothing: the document prints its result line with
# MODULE_NOT_FOUND or MODULE_HASH_MISMATCH (step "module") and exits 1, before the beacon is touched.

function Write-BpModuleRefusal([string]$Code, [string]$Message) {
    # The module (and its JSON writer) is not loaded: the line is written here. Code and message are fixed text
    # and hex digests only, so nothing needs escaping.
    [Console]::Out.WriteLine('{"ok":false,"document":"' + $BpModule.Document + '","requestId":null,"changed":[],"checks":[],"beaconVersion":null,"captureId":null,' +
        '"error":{"code":"' + $Code + '","message":"' + $Message + '","step":"module"},"rollback":null,"tasksFound":[],"warnings":[]}')
}

# aws:downloadContent puts a relative destinationPath under the command's own folder:
# <SSM orchestration folder>\<command id>\downloads\<file>, beside the folder of this script's step.
$BpModulePath = $null
$BpSearch = $PSScriptRoot
for ($BpLevel = 0; $BpLevel -lt 4 -and $BpSearch; $BpLevel++) {
    $BpCandidate = Join-Path (Join-Path $BpSearch 'downloads') $BpModule.File
    if (Test-Path -LiteralPath $BpCandidate -PathType Leaf) { $BpModulePath = $BpCandidate; break }
    $BpSearch = Split-Path -Path $BpSearch -Parent
}
if ($null -eq $BpModulePath) {
    Write-BpModuleRefusal 'MODULE_NOT_FOUND' ('the module ' + $BpModule.File + ' was not downloaded (see the output of the step downloadBeaconModule): the beacon instance role needs the stack policy BeaconInstancePolicyArn, and the beacon a route to Amazon S3; nothing was changed')
    exit 1
}
$BpModuleBytes = [System.IO.File]::ReadAllBytes($BpModulePath)
$BpHasher = [System.Security.Cryptography.SHA256]::Create()
$BpModuleSha256 = [System.BitConverter]::ToString($BpHasher.ComputeHash($BpModuleBytes)).Replace('-', '').ToLowerInvariant()
$BpHasher.Dispose()
if ($BpModuleSha256 -cne $BpModule.Sha256) {
    Write-BpModuleRefusal 'MODULE_HASH_MISMATCH' ('the downloaded module has SHA-256 ' + $BpModuleSha256 + ' but this document runs only ' + $BpModule.Sha256 + ': the file was changed or replaced after the stack deployed it; nothing was run or changed')
    exit 1
}
. ([scriptblock]::Create((New-Object System.Text.UTF8Encoding($false, $true)).GetString($BpModuleBytes)))
Remove-Variable -Name BpModulePath, BpSearch, BpLevel, BpCandidate, BpModuleBytes, BpHasher, BpModuleSha256 -ErrorAction SilentlyContinue
