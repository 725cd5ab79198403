# Shared by every concern: typed errors with a stable code, JSON that behaves the same on 5.1 and 7, hashing.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function New-BpError([string]$Code, [string]$Message) {
    $exception = New-Object System.InvalidOperationException($Message)
    $exception.Data['BpCode'] = $Code
    return $exception
}

# ConvertFrom-Json gives PSCustomObject on 5.1 (no -AsHashtable): turn it into ordered dictionaries and arrays.
function ConvertTo-BpData($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $table = [ordered]@{}
        foreach ($property in $Value.PSObject.Properties) { $table[$property.Name] = ConvertTo-BpData $property.Value }
        return $table
    }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ') }
    if ($Value -is [System.Collections.IList]) {
        $list = New-Object System.Collections.ArrayList
        foreach ($entry in $Value) { [void]$list.Add((ConvertTo-BpData $entry)) }
        return , $list.ToArray()
    }
    return $Value
}

function ConvertFrom-BpJson([string]$Text) {
    return ConvertTo-BpData (ConvertFrom-Json -InputObject $Text)
}

function ConvertTo-BpJson($Value) {
    return ConvertTo-Json -InputObject $Value -Depth 30 -Compress
}

function Get-BpSha256Hex([string]$Text) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { $hash = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Text)) } finally { $sha.Dispose() }
    return ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
}
