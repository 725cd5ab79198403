# Walks the PowerShell 7 AST of each file given and prints one JSON array of constructs that Windows
# PowerShell 5.1 (what SSM Run Command uses on a beacon) cannot run. Empty array = compatible.
# -Shipped: the files that run on a beacon; for them every command must be a function of the scripts or a
# cmdlet of -Cmdlets (Windows PowerShell 5.1 on Server 2016), and no cmdlet may receive a password.
param([Parameter(Mandatory = $true)][string[]]$Paths, [string[]]$Shipped = @(), [string[]]$Cmdlets = @())
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$sevenOnlyParameters = @{
    'ConvertFrom-Json' = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
    'Get-Content' = @('AsByteStream')
    'Set-Content' = @('AsByteStream')
    'ForEach-Object' = @('Parallel', 'ThrottleLimit', 'AsJob')
    '%' = @('Parallel')
    'Invoke-WebRequest' = @('SkipCertificateCheck', 'SslProtocol', 'Authentication', 'SkipHttpErrorCheck', 'Resume')
    'Invoke-RestMethod' = @('SkipCertificateCheck', 'SslProtocol', 'Authentication', 'SkipHttpErrorCheck', 'StatusCodeVariable')
    'Test-Json' = @()
}
$findings = New-Object System.Collections.ArrayList
function Add-Finding([string]$Path, $Extent, [string]$What) {
    [void]$findings.Add([ordered]@{ file = $Path; line = $Extent.StartLineNumber; what = $What; text = $Extent.Text.Split("`n")[0] })
}
# Functions the shipped scripts define (the module, the layer): calls to them are fine.
$defined = @{}
foreach ($path in $Shipped) {
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$tokens, [ref]$errors)
    foreach ($function in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true)) { $defined[$function.Name] = $true }
}
# Module logging (event 4103) writes every cmdlet parameter binding in clear: a password must never be one.
function Test-PasswordBinding($Command) {
    $name = $Command.GetCommandName()
    if ($name -eq 'ConvertTo-SecureString') { return $true }
    foreach ($element in $Command.CommandElements) {
        $kind = $element.GetType().Name
        if ($kind -eq 'CommandParameterAst' -and $element.ParameterName -match 'password|AsPlainText') { return $true }
        if ($kind -eq 'VariableExpressionAst' -and $element.VariablePath.UserPath -match 'password|secret') { return $true }
        if ($kind -eq 'HashtableAst') { foreach ($pair in $element.KeyValuePairs) { if ($pair.Item1.Extent.Text -match 'password') { return $true } } }
    }
    return $false
}
foreach ($path in $Paths) {
    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$tokens, [ref]$errors)
    foreach ($parseError in @($errors)) { if ($null -ne $parseError) { Add-Finding $path $parseError.Extent ('parse error: ' + $parseError.Message) } }
    $nodes = $ast.FindAll({ $true }, $true)
    foreach ($node in $nodes) {
        $type = $node.GetType().Name
        if ($type -eq 'TernaryExpressionAst') { Add-Finding $path $node.Extent 'ternary operator ?:' }
        elseif ($type -eq 'PipelineChainAst') { Add-Finding $path $node.Extent 'pipeline chain && / ||' }
        elseif ($type -eq 'BinaryExpressionAst' -and $node.Operator -eq 'QuestionQuestion') { Add-Finding $path $node.Extent 'null-coalescing ??' }
        elseif ($type -eq 'AssignmentStatementAst' -and $node.Operator -eq 'QuestionQuestionEquals') { Add-Finding $path $node.Extent 'null-coalescing assignment ??=' }
        elseif (($type -eq 'MemberExpressionAst' -or $type -eq 'InvokeMemberExpressionAst' -or $type -eq 'IndexExpressionAst') -and $node.NullConditional) { Add-Finding $path $node.Extent 'null-conditional access ?. / ?[]' }
        elseif ($type -eq 'ScriptBlockAst' -and $null -ne $node.CleanBlock) { Add-Finding $path $node.Extent 'clean block' }
        elseif ($type -eq 'VariableExpressionAst' -and @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR') -contains $node.VariablePath.UserPath) { Add-Finding $path $node.Extent ('$' + $node.VariablePath.UserPath + ' does not exist on 5.1') }
        elseif ($type -eq 'CommandAst') {
            $name = $node.GetCommandName()
            if ($Shipped -contains $path) {
                if ($name -and -not $defined.ContainsKey($name) -and $Cmdlets -notcontains $name) { Add-Finding $path $node.Extent ($name + ' is not a cmdlet of Windows PowerShell 5.1 on Server 2016 (ssm-documents/powershell-51.ts)') }
                # Functions of the scripts are not module commands, so module logging does not record them.
                if ($name -and -not $defined.ContainsKey($name) -and (Test-PasswordBinding $node)) { Add-Finding $path $node.Extent 'a password bound to a cmdlet parameter is written to module logging (event 4103)' }
            }
            if ($name -and $sevenOnlyParameters.ContainsKey($name)) {
                foreach ($element in $node.CommandElements) {
                    if ($element.GetType().Name -ne 'CommandParameterAst') { continue }
                    foreach ($parameter in $sevenOnlyParameters[$name]) {
                        if ($parameter.StartsWith($element.ParameterName, [System.StringComparison]::OrdinalIgnoreCase) -and $element.ParameterName.Length -ge 2) {
                            Add-Finding $path $node.Extent ($name + ' -' + $parameter + ' is PowerShell 7 only')
                        }
                    }
                }
            }
        }
    }
}
[Console]::Out.WriteLine((ConvertTo-Json -Compress -Depth 4 -InputObject @($findings.ToArray())))
